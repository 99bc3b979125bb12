"""Writing files so that nothing is ever lost: all of a new file, or the old one untouched.

Every file digitnet writes (weights and their card, PNG pictures, downloaded MNIST files)
goes through :func:`atomic_files`: the content is written to a temporary file in the
target's own folder, flushed to disk, and only then renamed over the target. A rename
within a folder is atomic, so a reader -- or a crash, a full disk, a Ctrl-C -- sees either
the old file or the complete new one, never half of it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import threading

__all__ = ["atomic_files", "signals_held", "check_writable"]

# The signals that stop a program politely; held while renames that belong together run.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


@contextlib.contextmanager
def signals_held(signals=STOP_SIGNALS):
    """Delay Ctrl-C, SIGTERM and SIGHUP until the block is done, then act on the first.

    The handlers in place before are restored on the way out, whatever happens. Outside the
    main thread (where Python cannot set handlers) the block simply runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    old = {}
    try:
        for sig in signals:
            old[sig] = signal.signal(sig, lambda signum, frame: caught.append((signum, frame)))
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if caught:
            signum, frame = caught[0]
            handler = old.get(signum)
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


def check_writable(path) -> None:
    """Raise OSError unless ``path`` could be replaced by a new file: its folder exists and
    is writable, and ``path`` itself is not a folder. Checked *before* any work is done, so
    that a report or a training run is not thrown away at the end."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(2, f"folder {folder} does not exist", path)
    if os.path.isdir(path):
        raise IsADirectoryError(21, "is a folder, not a file", path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(13, f"folder {folder} is not writable", path)


def _temporary(path):
    """Create a new, empty temporary file beside ``path``; return (fd, its path).

    Opened with mode 0o666, so the kernel applies the umask exactly as for a plain open().
    """
    folder, name = os.path.split(os.path.abspath(path))
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_files(*paths):
    """Write several files that must change together; yields one binary file per path.

    On a normal exit every temporary file is flushed and fsync'ed, then all are renamed
    over their targets with stop signals held (so a Ctrl-C cannot leave a new npz beside
    an old card). Before the first rename every target is checked not to be a folder, so
    that nothing is replaced unless everything can be. An existing target keeps its
    permissions. On any error or interrupt, the temporary files are removed and every
    target is left as it was.
    """
    created, files = [], []
    try:
        for path in paths:
            with signals_held():     # a file nobody knows the name of must never be left
                fd, tmp = _temporary(path)
                created.append(tmp)
            files.append(os.fdopen(fd, "wb"))
        yield files if len(files) > 1 else files[0]
        for f in files:
            f.flush()
            os.fsync(f.fileno())
            f.close()
        for path, tmp in zip(paths, created):
            if os.path.isdir(path):
                raise IsADirectoryError(21, "Is a directory", os.fspath(path))
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        with signals_held():
            for path, tmp in zip(paths, created):
                os.replace(tmp, path)
            created.clear()
        _sync_folder(os.path.dirname(os.path.abspath(os.fspath(paths[0]))))
    finally:
        with signals_held():
            for f in files:
                with contextlib.suppress(OSError):   # a full disk fails the flush again
                    f.close()
            for tmp in created:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _sync_folder(folder):
    """Make the renames themselves durable (POSIX; a folder cannot be opened on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
