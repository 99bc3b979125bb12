"""``python -m digitnet``: the same as the ``digitnet`` command."""

from digitnet.cli.main import main

main()
