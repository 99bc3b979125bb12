"""Helpers shared by the test modules (importable as ``helpers``: pyproject puts tests/ on
pytest's ``pythonpath``; fixtures stay in conftest.py)."""

import contextlib
import http.server
import shutil
import sys
import threading
from pathlib import Path

from click.testing import CliRunner
from hypothesis import strategies as st

from digitnet.cli.main import cli

# The installed executable, next to the interpreter running the tests.
DIGITNET = shutil.which("digitnet", path=str(Path(sys.executable).parent)) or shutil.which("digitnet")


def run(*args, input=None, env=None):
    """A command in-process through CliRunner: stdout and stderr kept apart, any stray
    exception propagates, and color=True keeps click from stripping escape codes (so the
    tests see exactly what the command writes)."""
    try:
        runner = CliRunner(mix_stderr=False)   # click 8.1
    except TypeError:
        runner = CliRunner()                   # click >= 8.2 always keeps stderr apart
    return runner.invoke(cli, [str(a) for a in args], input=input, env=env, color=True,
                         catch_exceptions=False)


class FileServer(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` (name -> bytes) by the last part of the URL path, 404 otherwise,
    recording each requested name in ``requests``. Subclasses change :meth:`send_body`."""

    files = {}
    requests = None

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        if self.requests is not None:
            self.requests.append(name)
        body = self.files.get(name)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_body(body)

    def send_body(self, body):
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(handler, files, **attributes):
    """A local HTTP server for a :class:`FileServer` subclass on 127.0.0.1, in a thread.

    Yields ``(base_url, handler_class)``; the class holds ``files`` and ``requests``.
    """
    cls = type("Handler", (handler,), {"files": files, "requests": [], **attributes})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), cls)
    httpd.daemon_threads = True
    httpd.handle_error = lambda *a: None      # a client killed mid-transfer is expected
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", cls
    finally:
        httpd.shutdown()
        httpd.server_close()


@st.composite
def mutated(draw, seeds, header=64):
    """A seed with up to four flips, cuts, insertions or overwrites (half of them in the
    first ``header`` or last 64 bytes, where sizes, offsets and directories live)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite-head", "overwrite-tail"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            span = min(header, len(data)) if kind == "overwrite-head" else min(64, len(data))
            at = draw(st.integers(0, span - 1))
            if kind == "overwrite-tail":
                at = len(data) - 1 - at
            chunk = draw(st.binary(min_size=1, max_size=4))
            data[at:at + len(chunk)] = chunk
    return bytes(data)
