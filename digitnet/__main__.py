"""``python -m digitnet``: the same as the ``digitnet`` command."""

import sys

try:
    from digitnet.cli.main import main
except ModuleNotFoundError as e:   # the repository root: its digitnet/ has no cli/ inside
    if e.name != "digitnet.cli":
        raise
    sys.exit("digitnet: python -m digitnet found the uninstalled source folder (the command "
             "line lives in cli/ until installed); run it from another folder, or use the "
             "digitnet command")

main()
