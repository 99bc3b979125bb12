"""The benchmarks' own measuring tools measure what they say (the figures they print are
quoted in the README)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import run  # noqa: E402  (benchmarks/run.py)


@pytest.fixture(autouse=True, scope="module")
def _launcher_stopped():
    """The launcher lives as long as the benchmark; here, as long as these tests."""
    yield
    if run._launcher is not None:
        run._launcher.stdin.close()
        assert run._launcher.wait(timeout=10) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss as on Linux")
def test_a_commands_peak_memory_is_its_own_not_the_benchmarks():
    # The benchmark holds hundreds of MB when it starts a command; Linux would carry that
    # over into the command's own high-water mark if the command were started from it.
    held = np.ones(400 * 2**20 // 8)  # 400 MB, touched
    seconds, rss, rc = run.run_child([sys.executable, "-c", "pass"])
    assert rc == 0 and 0 < seconds < 30
    assert rss < 100 * 2**20, f"python -c pass reported at {rss / 2**20:.0f} MB"
    grown = [sys.executable, "-c", "import numpy; a = numpy.ones(200 * 2**20 // 8)"]
    _, rss_grown, _ = run.run_child(grown)
    assert 200 * 2**20 < rss_grown < 350 * 2**20
    del held


def test_a_commands_exit_code_and_stderr_file_come_back(tmp_path):
    err = tmp_path / "err.txt"
    _, _, rc = run.run_child([sys.executable, "-c", "import sys; sys.exit('no such file')"],
                             stderr=err)
    assert rc == 1 and err.read_text().strip() == "no such file"
    _, _, rc = run.run_child([sys.executable, "-c", "import sys; sys.exit(3)"],
                             stdout=subprocess.DEVNULL)
    assert rc == 3


def test_a_command_that_cannot_start_is_named_and_the_next_one_runs(tmp_path):
    with pytest.raises(OSError, match="/nonexistent/command"):
        run.run_child(["/nonexistent/command"])
    with pytest.raises(OSError, match="no-such-folder"):
        run.run_child([sys.executable, "-c", "pass"], stderr=tmp_path / "no-such-folder" / "e")
    _, _, rc = run.run_child([sys.executable, "-c", "pass"])
    assert rc == 0


def test_a_dead_launcher_is_replaced():
    run.run_child([sys.executable, "-c", "pass"])
    run._launcher.kill()
    run._launcher.wait()
    _, _, rc = run.run_child([sys.executable, "-c", "import sys; sys.exit(4)"])
    assert rc == 4
