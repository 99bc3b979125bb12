"""digitnet's exceptions, and how any error or name becomes one safe line of text.

Every fault a user can cause -- a bad image, a hostile weight file, a missing data folder --
raises a subclass of :class:`DigitnetError` whose message is one line meant for a human.
The command line prints it as ``digitnet: MESSAGE``; library callers catch
``digitnet.DigitnetError`` and get the very same text.
"""

from __future__ import annotations

import re

__all__ = ["DigitnetError", "ImageError", "WeightFileError", "DataError", "one_line",
           "printable"]


class DigitnetError(Exception):
    """Base class of every error digitnet reports; the message is one line for a human."""


class ImageError(DigitnetError, ValueError):
    """An input image could not be turned into network inputs.

    The message does not contain the file name: the caller knows it (the command line
    prints ``digitnet: FILE: message``).
    """


class WeightFileError(DigitnetError):
    """A weight file or model card that cannot be used; the message names the file and fault."""


class DataError(DigitnetError):
    """An MNIST data file or folder that cannot be used; the message names the file and fault."""


# C0 and C1 control characters and DEL: a terminal acts on them (an ESC sequence can set
# the window title or move the cursor), and a newline would split a one-line message.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text) -> str:
    """``text`` with every control character escaped (``\\n``, ``\\t``, ``\\x1b``...).

    For anything that came from outside -- a file name, a server's reason phrase -- and is
    about to be printed: it stays on one line and cannot drive the terminal. Other text,
    including non-ASCII letters and undecodable bytes (surrogate escapes), is kept.
    """
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"),
                        str(text))


def one_line(error, limit: int = 200) -> str:
    """An exception (or any text) as one short line: whitespace runs become one space,
    control characters are escaped, and more than ``limit`` characters end in ``...``.

    An exception without a message gives its type's name (``MemoryError``).
    """
    text = str(error)
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    text = printable(" ".join(text.split()))
    if not text and isinstance(error, BaseException):
        text = type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
