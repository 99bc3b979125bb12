"""MNIST: reading IDX files, finding the data folder, and downloading the four files.

MNIST is by Y. LeCun, C. Cortes and C. J. C. Burges, licensed CC BY-SA 3.0. Its 70,000
28x28 greyscale digits are stored in the IDX format: a big-endian header -- two zero bytes,
a type code (0x08 = unsigned byte), the number of dimensions, then one uint32 per
dimension -- followed by the raw values. Files may be gzipped (as distributed) or not.

The data folder is, in order: ``--data DIR``; else ``$DIGITNET_DATA``; else a per-user
cache folder (``$XDG_CACHE_HOME/digitnet/mnist``, normally ``~/.cache/digitnet/mnist``).
The test set (t10k) also ships inside the package, so evaluation works with no download.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError, one_line, printable

__all__ = ["DataError", "FILES", "SHA256", "read_idx", "load_split", "data_dir",
           "bundled_dir", "find_split", "download"]


# The four files, under the names they have always had.
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# In download order: the small test set first, so that a failure on the big training
# files (a dead mirror, Ctrl-C) still leaves the test set verified in place.
SHA256 = {
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
}
# Public mirrors, tried in order.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

# No MNIST file is larger than this (train-images, gzipped: 9.9 MB).
MAX_DOWNLOAD_BYTES = 32 * 2**20

# An IDX header cannot describe more than this many bytes of data and still be MNIST-like;
# refusing early stops a hostile header from asking for terabytes.
MAX_IDX_BYTES = 1 << 31
MAX_IDX_DIMS = 16
#: Most images (or labels) an IDX file may hold: 16x MNIST's training set, more than any
#: digit data set (EMNIST ByClass has 814,255).
MAX_IDX_ITEMS = 1_000_000
#: Most bytes of data per byte of a gzipped file. Real images compress about 5:1 (MNIST's
#: training images 4.7:1); a file that claims hundreds of times its size is a gzip bomb,
#: refused before anything is inflated.
MAX_GZIP_RATIO = 50


def read_idx(path, expect_ndim=None):
    """Read one IDX file (gzipped or not) into a uint8 numpy array.

    Returns an array of shape (n,) for a label file (``expect_ndim=1``) or (n, rows, cols)
    for an image file (``expect_ndim=3``). Raises :class:`DataError` naming the file for a
    missing or unreadable file, a bad magic number, an unsupported type, or a size that
    disagrees with the header.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
            f.seek(0)
            # The header is read and checked first, then exactly the data it announces: a
            # small gzip bomb with a bad header fails at once instead of inflating
            # gigabytes into memory before the magic number is even looked at.
            with (gzip.open(f) if gz else contextlib.nullcontext(f)) as src:
                head = src.read(4)
                ndim = _check_magic(path, head, expect_ndim)
                head += src.read(4 * ndim)
                if len(head) < 4 + 4 * ndim:
                    raise DataError(f"{path}: truncated IDX header")
                dims = struct.unpack(f">{ndim}I", head[4:])
                count = math.prod(dims)   # Python ints: a hostile header cannot overflow
                if count > MAX_IDX_BYTES or dims[0] > MAX_IDX_ITEMS:
                    raise DataError(f"{path}: header claims {'x'.join(map(str, dims))} "
                                    f"({count:,} bytes of data), too large (at most "
                                    f"{MAX_IDX_ITEMS:,} items)")
                packed = os.fstat(f.fileno()).st_size
                if gz and count > MAX_GZIP_RATIO * max(packed, 1 << 16):
                    raise DataError(f"{path}: header claims {count:,} bytes of data from "
                                    f"{packed:,} compressed bytes -- no real data set "
                                    "compresses like that (a gzip bomb?)")
                raw = src.read(count)
                trailing = len(src.read(1 << 20)) if len(raw) == count else 0
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as e:
        # zlib.error: a corrupt deflate stream inside a .gz (it is not an OSError)
        raise DataError(f"{path}: cannot read ({one_line(e)})") from None
    if len(raw) < count:
        raise DataError(f"{path}: truncated: header says {'x'.join(map(str, dims))} "
                        f"({count} bytes), file holds {len(raw)}")
    if trailing:
        more = "at least " if trailing >= 1 << 20 else ""
        raise DataError(f"{path}: {more}{trailing} unexpected bytes after the data")
    return np.frombuffer(raw, dtype=np.uint8).reshape(dims)


def _check_magic(path, head, expect_ndim):
    """The number of dimensions from an IDX file's first 4 bytes, or DataError."""
    if len(head) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(head)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", head)
    if zero != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number 0x{head.hex()})")
    if dtype_code != 0x08:
        raise DataError(f"{path}: unsupported IDX value type 0x{dtype_code:02x} "
                        "(MNIST uses 0x08, unsigned bytes)")
    if expect_ndim is not None and ndim != expect_ndim:
        kind = "label" if expect_ndim == 1 else "image"
        raise DataError(f"{path}: expected an IDX {kind} file with {expect_ndim} "
                        f"dimension(s), header says {ndim} (magic 0x{head.hex()})")
    if ndim == 0:
        raise DataError(f"{path}: truncated IDX header")
    if ndim > MAX_IDX_DIMS:   # numpy arrays have at most 64 dimensions
        raise DataError(f"{path}: IDX header says {ndim} dimensions, too many")
    return ndim


def load_split(folder, split="train"):
    """Images and labels of one MNIST split from a folder.

    Returns ``(images, labels)``: images float32 (n, 784) with brightness 0..1 (row-major
    28x28, light ink on dark), labels uint8 (n,) in 0..9. Accepts the files gzipped or
    not (``train-images-idx3-ubyte[.gz]``). Raises :class:`DataError` if anything is off.
    """
    img_name, lbl_name = FILES[split]
    img_path = _existing(Path(folder), img_name)
    lbl_path = _existing(Path(folder), lbl_name)
    images = read_idx(img_path, expect_ndim=3)
    labels = read_idx(lbl_path, expect_ndim=1)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{img_path}: images are {images.shape[1]}x{images.shape[2]}, "
                        "expected 28x28")
    if len(images) != len(labels):
        raise DataError(f"{lbl_path}: {len(labels)} labels for {len(images)} images in "
                        f"{img_path.name}")
    if len(labels) and labels.max() > 9:
        raise DataError(f"{lbl_path}: label {int(labels.max())} is not a digit 0..9")
    x = images.reshape(len(images), 784).astype(np.float32)
    x /= np.float32(255)        # exactly as an image file's pixels are scaled (k / 255)
    return x, labels.copy()


def _existing(folder, gz_name):
    """The file ``gz_name`` in ``folder``, or its un-gzipped twin; DataError if neither."""
    for name in (gz_name, gz_name[:-3]):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder / gz_name}: file not found (run `digitnet download` or "
                    "pass --data DIR)")


def data_dir(option=None):
    """The data folder: ``option`` if given, else $DIGITNET_DATA, else the user cache."""
    if option:
        return Path(option).expanduser()
    if os.environ.get("DIGITNET_DATA"):
        return Path(os.environ["DIGITNET_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "digitnet" / "mnist"


def bundled_dir():
    """The folder inside the installed package that holds the MNIST test set."""
    return Path(__file__).parent / "data"


def find_split(option=None, split="test"):
    """Load a split from the data folder; for the test split, fall back to the bundled copy.

    Returns ``(images, labels, folder_used)``. An explicitly named folder (``--data`` or
    $DIGITNET_DATA) is never silently replaced: if it lacks the files, that is an error.
    """
    folder = data_dir(option)
    explicit = bool(option) or bool(os.environ.get("DIGITNET_DATA"))
    if split == "test" and not explicit and not (folder / FILES["test"][0]).exists() \
            and not (folder / FILES["test"][0][:-3]).exists():
        folder = bundled_dir()
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found (run `digitnet download` or pass "
                        "--data DIR)")
    x, y = load_split(folder, split)
    return x, y, folder


def sha256_file(path):
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256_or_none(path):
    """sha256_file, or None if the file cannot be read (then it is downloaded again)."""
    try:
        return sha256_file(path)
    except OSError:
        return None


def download(folder, mirrors=None, progress=None, timeout=30, deadline=600):
    """Fetch the four MNIST files into ``folder``, verifying each SHA-256.

    Files already present with the right hash are kept. Each download goes to a temporary
    file in the same folder and is renamed into place only once complete and verified
    (:func:`digitnet.files.atomic_files`), so an interrupted or corrupted transfer never
    leaves a partial file under the final name. Mirrors are tried in order; one that stops
    answering for ``timeout`` seconds, or has not delivered a file within ``deadline``
    seconds (a trickling "slow loris"), counts as failed. ``progress(name, status)`` is
    called with messages for the user. Returns the list of file paths. Raises
    :class:`DataError` if a file cannot be got -- and then removes the folder again if
    this call created it and it is still empty.
    """
    folder = Path(folder)
    new = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{printable(folder)}: cannot create data folder ({one_line(e)})") from None
    try:
        return _download_all(folder, list(mirrors or MIRRORS),
                             progress or (lambda name, status: None), timeout, deadline)
    except BaseException:
        for p in new:                   # innermost first; stops at the first non-empty one
            try:
                p.rmdir()
            except OSError:
                break
        raise


class _Deadline:
    """An opener whose connections are cut when ``seconds`` have passed, whatever stage
    the transfer is in: a mirror that trickles its status line or headers a byte at a
    time is never waited for longer than a body would be."""

    def __init__(self, seconds):
        import http.client
        import ssl
        import threading
        import urllib.request

        self.expired, self.sockets = False, []
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True
        watch = self

        def watched(base):
            class Connection(base):
                def connect(self):
                    super().connect()
                    watch.sockets.append(self.sock)
            return Connection

        class HTTP(urllib.request.HTTPHandler):
            def http_open(self, req):
                return self.do_open(watched(http.client.HTTPConnection), req)

        class HTTPS(urllib.request.HTTPSHandler):
            def https_open(self, req):
                return self.do_open(watched(http.client.HTTPSConnection), req,
                                    context=ssl.create_default_context())

        self.opener = urllib.request.build_opener(HTTP, HTTPS)

    def _expire(self):
        import socket
        self.expired = True
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)   # a blocked read returns at once
            except OSError:
                pass

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        return False


class _Failed(Exception):
    """One mirror failed for one file (the message says how)."""


class _LocalError(Exception):
    """Writing the downloaded bytes failed on our side (full disk...): no mirror can help."""


def _download_all(folder, mirrors, say, timeout, deadline):
    import http.client

    from .files import atomic_files

    paths = []
    for name, digest in SHA256.items():
        target = folder / name
        if target.is_file() and _sha256_or_none(target) == digest:
            say(name, "already present, checksum ok")
            paths.append(target)
            continue
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            try:
                with atomic_files(target) as out, _Deadline(deadline) as watch:
                    try:
                        with watch.opener.open(url, timeout=timeout) as response:
                            _fetch(response, out, digest, watch, deadline)
                    # http.client.HTTPException: a server that answers with garbage
                    # (BadStatusLine, IncompleteRead...) is a failed mirror like any other.
                    except (OSError, http.client.HTTPException, ValueError) as e:
                        # URLError, timeouts, resets, TLS errors; ValueError: a bad URL
                        if watch.expired:
                            raise _Failed(f"not complete after {deadline} s") from None
                        raise _Failed(one_line(str(getattr(e, "reason", None) or e))) from None
            except _Failed as e:
                errors.append(f"{printable(url)}: {e}")
                continue
            except (OSError, _LocalError) as e:  # our side: the folder, the disk
                cause = e.__cause__ if isinstance(e, _LocalError) else e
                raise DataError(f"{printable(target)}: cannot write ({one_line(cause)})") from None
            say(name, f"downloaded from {printable(base)}")
            paths.append(target)
            break
        else:
            raise DataError(f"{printable(target)}: could not download ({'; '.join(errors)})")
    return paths


def _fetch(response, out, digest, watch, deadline):
    """Copy a response into ``out``, verifying size, time and SHA-256 (else :class:`_Failed`)."""
    h = hashlib.sha256()
    received = 0
    # read1: whatever has arrived (up to 64 KiB), so the deadline is checked as bytes trickle in.
    for chunk in iter(lambda: response.read1(1 << 16), b""):
        # A hostile or broken mirror could stream forever and fill the disk (the largest
        # MNIST file is under 10 MB), or trickle a byte at a time to hold us forever.
        received += len(chunk)
        if received > MAX_DOWNLOAD_BYTES:
            raise _Failed(f"more than {MAX_DOWNLOAD_BYTES // 2**20} MiB, not an MNIST file")
        if watch.expired:
            raise _Failed(f"not complete after {deadline} s")
        h.update(chunk)
        try:
            out.write(chunk)
        except OSError as e:
            raise _LocalError() from e
    if watch.expired:                     # the cut connection looked like a normal end
        raise _Failed(f"not complete after {deadline} s")
    if h.hexdigest() != digest:
        raise _Failed("checksum mismatch")
