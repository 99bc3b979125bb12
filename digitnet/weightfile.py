"""Weight files: ``NAME.npz`` (the numbers) beside ``NAME.json`` (the model card).

The format, readable without digitnet:

- ``NAME.npz`` is an ordinary NumPy ``.npz`` archive (a zip of ``.npy`` files) holding the
  arrays ``W1, b1, W2, b2, ..., WL, bL`` and nothing else, all float32 or all float64.
  ``Wl`` has shape (n_l, n_{l-1}) -- row j is the incoming weights of neuron j of layer l --
  and ``bl`` has shape (n_l,). ``n_0`` is 784 (a 28x28 image, row-major, brightness 0..1,
  light ink on dark as in MNIST) and ``n_L`` is 10 (one output per digit). Every layer is
  ``a_l = sigmoid(Wl @ a_{l-1} + bl)``.
- ``NAME.json`` is the model card: layer sizes, activation, input convention, how the
  weights were trained, the accuracy ``digitnet evaluate`` measured, and ``npz_sha256``, the
  SHA-256 of the npz file's bytes. The card is optional for loading, but when present it
  must agree with the npz.

Loading never unpickles (as ``allow_pickle=False``: object arrays are refused outright) and
checks everything before use: each array's header (dtype, shape, size) is read and
validated *before* its data is used, so a hostile file cannot make us allocate gigabytes;
then values must be finite. Saving is atomic: both files are written to temporary names
and renamed into place.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import struct
import zlib

import numpy as np

from .network import Network

__all__ = ["WeightFileError", "SHIPPED", "shipped_dir", "resolve", "load", "save", "check",
           "card_path"]

FORMAT = "digitnet-weights/1"
N_INPUTS, N_OUTPUTS = 784, 10
MAX_FILE_BYTES = 512 * 1024 * 1024   # far above any sensible MLP for 28x28 digits
MAX_LAYERS = 64
SHIPPED = ("default", "wide")
_NAME = re.compile(r"^([Wb])([1-9][0-9]*)$")


class WeightFileError(Exception):
    """A weight file or model card that cannot be used; the message names the file and fault."""


def shipped_dir():
    """Folder of the shipped weight files: ``digitnet/weights`` once installed.

    In a source checkout that has not been installed, the top-level ``weights/`` folder.
    (Paths here are plain strings: ``pathlib`` is not needed to classify one image, and
    importing it costs a noticeable share of a cold start.)
    """
    here = os.path.dirname(os.path.realpath(__file__))
    installed = os.path.join(here, "weights")
    return installed if os.path.isdir(installed) else os.path.join(os.path.dirname(here), "weights")


def resolve(spec):
    """Turn ``--weights`` (a shipped model's name or a path) into the path (str) of an npz.

    ``default`` and ``wide`` name the shipped models (unless a file of that name exists in
    the current folder); ``m`` finds ``m.npz``; ``m.json`` finds the npz beside the card.
    """
    spec = os.fspath(spec or "default")
    p = os.path.expanduser(spec)
    stem, suffix = os.path.splitext(p)
    if spec in SHIPPED and not os.path.exists(p):
        return os.path.join(shipped_dir(), f"{spec}.npz")
    if suffix == ".json":
        return stem + ".npz"
    if not os.path.exists(p) and suffix != ".npz" and os.path.exists(stem + ".npz"):
        return stem + ".npz"
    return p


def card_path(npz_path):
    """The model card's path (str) for an npz path: same name, ``.json``."""
    return os.path.splitext(os.fspath(npz_path))[0] + ".json"


def _sha256_hex(data):
    """Hex SHA-256 of bytes.

    For small files (every 784-16-16-10 model), Python's built-in implementation: hashlib
    would first load OpenSSL, a few milliseconds of every cold start. Large files are
    hashed by OpenSSL, which is several times faster per byte.
    """
    if len(data) < (1 << 20):
        try:
            from _sha2 import sha256            # Python >= 3.12
        except ImportError:
            try:
                from _sha256 import sha256      # Python 3.10, 3.11
            except ImportError:
                from hashlib import sha256
    else:
        from hashlib import sha256
    return sha256(data).hexdigest()


def load(spec="default"):
    """Load and validate a network; returns ``(network, card)``.

    ``card`` is the model card as a dict, or None when the npz has no card beside it.
    Raises :class:`WeightFileError` with a message naming the file and what is wrong.
    """
    path = resolve(spec)
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        hint = f" (shipped models: {', '.join(SHIPPED)})" if os.sep not in str(spec) else ""
        raise WeightFileError(f"{path}: weight file not found{hint}") from None
    except OSError as e:
        raise WeightFileError(f"{path}: cannot read ({e.strerror or e})") from None
    if not os.path.isfile(path):
        raise WeightFileError(f"{path}: not a file")
    if size > MAX_FILE_BYTES:
        raise WeightFileError(f"{path}: {size} bytes is too large for a weight file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise WeightFileError(f"{path}: cannot read ({e.strerror or e})") from None
    arrays = _read_npz(path, data)
    net = _build_network(path, arrays)
    card = None
    cpath = card_path(path)
    if os.path.exists(cpath):
        card = _read_card(cpath)
        _check_card(cpath, card, net, _sha256_hex(data))
    return net, card


def _read_npz(path, data):
    """The arrays of an npz held in ``data``: sizes bounded, each header validated before
    its data is interpreted."""
    fail = lambda why: WeightFileError(f"{path}: {why}")  # noqa: E731
    try:
        infos = _zip_entries(data)
    except (_BadZip, struct.error):
        raise fail("not a valid .npz (zip) file -- truncated or corrupt?") from None
    arrays = {}
    if len(infos) > 2 * MAX_LAYERS:
        raise fail(f"{len(infos)} members is too many for a weight file")
    total = 0
    for info in infos:
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if not _NAME.match(name):
            raise fail(f"unexpected array {name!r} (a weight file holds only W1, b1, "
                       "W2, b2, ...)")
        if name in arrays:
            raise fail(f"array {name} appears twice")
        total += info.file_size
        if total > MAX_FILE_BYTES:
            raise fail("arrays are too large for a weight file")
        try:
            with io.BytesIO(_zip_member(data, info)) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
                if dtype.hasobject:
                    raise fail(f"array {name} holds Python objects (pickled data is "
                               "never loaded)")
                if dtype not in (np.dtype("<f4"), np.dtype("<f8"), np.dtype(">f4"),
                                 np.dtype(">f8")):
                    raise fail(f"array {name} has dtype {dtype}, expected float32 or "
                               "float64")
                if any(d < 0 for d in shape):
                    raise fail(f"array {name} has a negative size in its shape {shape}")
                n = math.prod(shape)   # Python ints: a forged shape cannot overflow
                if n * dtype.itemsize > info.file_size:
                    raise fail(f"array {name} is truncated")
                raw = member.read(n * dtype.itemsize + 1)
                if len(raw) != n * dtype.itemsize:
                    raise fail(f"array {name} is truncated or has trailing bytes")
                order = "F" if fortran else "C"
                arr = np.frombuffer(raw, dtype=dtype).reshape(shape, order=order)
        except WeightFileError:
            raise
        except Exception as e:  # noqa: BLE001
            # zipfile, zlib and numpy's header parser raise a zoo of types on hostile
            # bytes (BadZipFile, zlib.error, tokenize.TokenError, SyntaxError,
            # ValueError, NotImplementedError for unknown compression, RuntimeError for
            # encrypted members...): every one means the member is corrupt.
            why = " ".join(str(e).split()) or type(e).__name__
            raise fail(f"array {name} is corrupt ({why[:200]})") from None
        arrays[name] = np.ascontiguousarray(arr, dtype=dtype.newbyteorder("="))
    return arrays


class _BadZip(ValueError):
    """A zip archive (the container of an .npz) that cannot be read."""


class _ZipEntry:
    """One member of a zip archive held in memory, as its central directory describes it."""
    __slots__ = ("filename", "flags", "method", "crc", "compress_size", "file_size", "start")

    def __init__(self, *values):
        for slot, value in zip(self.__slots__, values):
            setattr(self, slot, value)


_EOCD = struct.Struct("<IHHHHIIH")             # end of central directory record
_EOCD64_LOCATOR = struct.Struct("<IIQI")
_EOCD64 = struct.Struct("<IQHHIIQQQQ")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")  # central directory file header
_MAX_MEMBERS = 4 * MAX_LAYERS


def _zip_entries(data):
    """The members of the zip archive ``data`` (bytes), read from its central directory.

    A small reader of our own rather than the standard ``zipfile``: an .npz is a plain zip
    and reading one needs little, while importing ``zipfile`` (with ``shutil``, ``bz2``,
    ``lzma`` and ``pathlib`` behind it) costs several milliseconds of every one-file
    ``digitnet classify``. Only what NumPy writes is accepted: one disk, members stored or
    deflated, not encrypted; ZIP64 records are understood. Raises :class:`_BadZip`.
    """
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - (_EOCD.size + 0xFFFF)))
    if end < 0 or end + _EOCD.size > len(data):
        raise _BadZip("no end-of-archive record")
    _, disk, cd_disk, here, count, cd_size, cd_offset, _ = _EOCD.unpack_from(data, end)
    if count == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
        loc = end - _EOCD64_LOCATOR.size
        if loc < 0 or data[loc:loc + 4] != b"PK\x06\x07":
            raise _BadZip("missing ZIP64 locator")
        off64 = _EOCD64_LOCATOR.unpack_from(data, loc)[2]
        if off64 + _EOCD64.size > len(data) or data[off64:off64 + 4] != b"PK\x06\x06":
            raise _BadZip("bad ZIP64 record")
        (_, _, _, _, disk, cd_disk, here, count, cd_size,
         cd_offset) = _EOCD64.unpack_from(data, off64)
    if disk or cd_disk or here != count:
        raise _BadZip("multi-disk archive")
    if count > _MAX_MEMBERS or cd_offset + cd_size > len(data):
        raise _BadZip("corrupt central directory")
    entries, p = [], cd_offset
    for _ in range(count):
        if p + _CENTRAL.size > len(data) or data[p:p + 4] != b"PK\x01\x02":
            raise _BadZip("corrupt central directory")
        (_, _, _, flags, method, _, _, crc, csize, size, name_len, extra_len, comment_len,
         _, _, _, offset) = _CENTRAL.unpack_from(data, p)
        name = data[p + _CENTRAL.size:p + _CENTRAL.size + name_len]
        extra = data[p + _CENTRAL.size + name_len:p + _CENTRAL.size + name_len + extra_len]
        p += _CENTRAL.size + name_len + extra_len + comment_len
        if 0xFFFFFFFF in (size, csize, offset):
            size, csize, offset = _zip64_sizes(extra, size, csize, offset)
        # The data starts after the member's local header, whose name and extra field
        # may differ in length from the central directory's copies.
        if offset + 30 > len(data) or data[offset:offset + 4] != b"PK\x03\x04":
            raise _BadZip("corrupt local header")
        local_name_len, local_extra_len = struct.unpack_from("<HH", data, offset + 26)
        start = offset + 30 + local_name_len + local_extra_len
        if start + csize > len(data):
            raise _BadZip("truncated member")
        entries.append(_ZipEntry(name.decode("utf-8", "replace"), flags, method, crc, csize,
                                 size, start))
    return entries


def _zip64_sizes(extra, size, csize, offset):
    """Sizes and offset from a ZIP64 extra field, for those the 32-bit fields mark 'see there'."""
    p = 0
    while p + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, p)
        if tag == 0x0001:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, p + 4))
            fields = [size, csize, offset]
            for i, v in enumerate(fields):
                if v == 0xFFFFFFFF:
                    if not values:
                        raise _BadZip("short ZIP64 field")
                    fields[i] = values.pop(0)
            return tuple(fields)
        p += 4 + length
    raise _BadZip("missing ZIP64 field")


def _zip_member(data, entry):
    """The uncompressed bytes of one member, checked against its size and CRC-32."""
    if entry.flags & 0x1:
        raise _BadZip("encrypted member")
    raw = data[entry.start:entry.start + entry.compress_size]
    if entry.method == 0:                      # stored
        out = raw
    elif entry.method == 8:                    # deflated (np.savez_compressed)
        if entry.file_size > MAX_FILE_BYTES:
            raise _BadZip("member too large")
        inflater = zlib.decompressobj(-15)
        # At most one byte more than announced: a deflate bomb stops right there.
        out = inflater.decompress(raw, entry.file_size + 1)
    else:
        raise _BadZip(f"compression method {entry.method} is not supported")
    if len(out) != entry.file_size:
        raise _BadZip("size does not match the directory")
    if zlib.crc32(out) != entry.crc:
        raise _BadZip("CRC-32 check failed")
    return out


def _build_network(path, arrays):
    """Check names, sequence, shapes, dtypes and values, then make the Network."""
    fail = lambda why: WeightFileError(f"{path}: {why}")  # noqa: E731
    # The highest layer number named decides how many layers there should be: with only
    # b3 missing, "array b3 is missing" is the fault, not "unexpected array W3".
    n_layers = max((int(_NAME.match(name).group(2)) for name in arrays), default=0)
    if not arrays:
        raise fail("no arrays (expected W1, b1, W2, b2, ...)")
    for l in range(1, n_layers + 1):
        for kind in "Wb":
            if f"{kind}{l}" not in arrays:
                raise fail(f"array {kind}{l} is missing")
    extra = sorted(set(arrays) - {f"{k}{l}" for l in range(1, n_layers + 1) for k in "Wb"})
    if extra or len(arrays) % 2:
        raise fail(f"unexpected array(s) {', '.join(extra) or sorted(arrays)[-1]} "
                   f"(layers must be numbered 1..{n_layers} without gaps)")
    if n_layers > MAX_LAYERS:
        raise fail(f"{n_layers} layers is too many")
    weights = [arrays[f"W{l}"] for l in range(1, n_layers + 1)]
    biases = [arrays[f"b{l}"] for l in range(1, n_layers + 1)]
    dtypes = {a.dtype for a in weights + biases}
    if len(dtypes) != 1:
        raise fail("arrays mix float32 and float64; use one dtype for all")
    n_in = N_INPUTS
    for l, (w, b) in enumerate(zip(weights, biases), start=1):
        if w.ndim != 2 or w.shape[1] != n_in or w.shape[0] < 1:
            raise fail(f"W{l} has shape {w.shape}, expected (n_out, {n_in})")
        if b.shape != (w.shape[0],):
            raise fail(f"b{l} has shape {b.shape}, expected ({w.shape[0]},) to match W{l}")
        for name, a in ((f"W{l}", w), (f"b{l}", b)):
            if not np.isfinite(a).all():
                raise fail(f"{name} holds NaN or infinite values")
        # Finite is not enough: values near the dtype's limit (3.4e38 for float32) overflow
        # in the weighted sums and turn every output into NaN -- a "digit 0" with NaN
        # activations and invalid JSON. Inputs and activations lie in 0..1, so no sum can
        # exceed sum(|w|) + |b| per neuron: if that is finite, the forward pass is too.
        with np.errstate(over="ignore"):
            reach = float((np.abs(w).sum(axis=1, dtype=np.float64) + np.abs(b)).max())
        if not reach < float(np.finfo(w.dtype).max):
            raise fail(f"W{l} and b{l} are so large that a weighted sum would overflow "
                       f"{w.dtype} (up to {reach:.3g})")
        n_in = w.shape[0]
    if n_in != N_OUTPUTS:
        raise fail(f"last layer has {n_in} outputs, expected {N_OUTPUTS} (one per digit)")
    return Network(weights, biases)


def check(net, name="network"):
    """Raise :class:`WeightFileError` unless :func:`load` would accept ``net``'s arrays.

    For a network about to be saved (a diverged training run can end with finite weights
    too large to use): a weight file that cannot be loaded back is never written.
    """
    arrays = {}
    for l, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
        arrays[f"W{l}"], arrays[f"b{l}"] = w, b
    _build_network(name, arrays)


def _read_card(cpath):
    if not os.path.isfile(cpath):   # a FIFO named NAME.json would block the read forever
        raise WeightFileError(f"{cpath}: model card is not a regular file")
    try:
        if os.stat(cpath).st_size > 1 << 20:
            raise WeightFileError(f"{cpath}: model card larger than 1 MiB")
        with open(cpath, encoding="utf-8") as f:
            card = json.loads(f.read())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        why = getattr(e, "strerror", None) or str(e).splitlines()[0] if str(e) else type(e).__name__
        raise WeightFileError(f"{cpath}: unreadable model card ({why})") from None
    if not isinstance(card, dict):
        raise WeightFileError(f"{cpath}: model card must be a JSON object")
    return card


def _check_card(cpath, card, net, digest):
    """The card must describe this npz: same hash, same layer sizes, sigmoid activation."""
    want = card.get("npz_sha256")
    if want is not None and want != digest:
        npz_name = os.path.basename(os.path.splitext(cpath)[0] + ".npz")
        raise WeightFileError(f"{cpath}: npz_sha256 does not match {npz_name} "
                              "(the weights were changed or the files do not belong together)")
    layers = card.get("layers")
    if layers is not None and layers != net.sizes:
        # json.dumps: whatever the card holds, the message stays on one line.
        raise WeightFileError(f"{cpath}: card says layers {json.dumps(layers)[:100]}, "
                              f"the npz holds {net.sizes}")
    act = card.get("activation", "sigmoid")
    if act != "sigmoid":
        raise WeightFileError(f"{cpath}: activation {act!r} is not supported (only sigmoid)")


def save(path, net, card=None):
    """Write ``path`` (.npz) and its model card (.json) atomically; returns the card written.

    ``card`` holds whatever the caller knows (training details, evaluation); this function
    fills in the format, layer sizes, activation, input convention, dtype and the npz's
    SHA-256. Both files are first written in full to temporary files in the target folder,
    then renamed over the targets (with Ctrl-C held back between the two renames), so an
    existing good pair is never left half-overwritten.
    """
    path = os.fspath(path)
    if os.path.splitext(path)[1] != ".npz":
        path += ".npz"
    folder = os.path.dirname(path) or "."
    arrays = {}
    for l, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
        arrays[f"W{l}"], arrays[f"b{l}"] = w, b
    data = _npz_bytes(arrays)
    full = {
        "format": FORMAT,
        "layers": net.sizes,
        "activation": "sigmoid",
        "dtype": str(net.dtype),
        "input": {"shape": [28, 28], "order": "row-major", "range": [0.0, 1.0],
                  "polarity": "light ink on a dark background, as in MNIST"},
    }
    full.update(card or {})
    full["npz_sha256"] = _sha256_hex(data)
    text = json.dumps(full, indent=2) + "\n"
    # Every temporary file is recorded the moment it exists, so that whatever interrupts
    # the save (Ctrl-C, a full disk) -- even between creating a file and returning its
    # name -- the finally below removes it.
    created = []
    try:
        tmp_npz = _write_temp(folder, os.path.basename(path), data, created)
        tmp_json = _write_temp(folder, os.path.basename(card_path(path)), text.encode(), created)
        with _sigint_held():
            os.replace(tmp_npz, path)
            os.replace(tmp_json, card_path(path))
    finally:
        with _sigint_held():
            for t in created:
                if os.path.exists(t):
                    os.unlink(t)
    return full


def _npz_bytes(arrays):
    """The bytes of an .npz holding ``arrays`` -- the same bytes for the same arrays.

    ``np.savez`` stamps each zip member with the current time, so saving the same weights
    twice would give different files (and SHA-256s). Writing the members ourselves with a
    fixed timestamp keeps the file a plain, uncompressed NumPy .npz that any reader opens.
    """
    import zipfile   # only saving needs the full module

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def _write_temp(folder, name, data, created):
    """Write bytes to a new temporary file next to the target, its path appended to
    ``created`` as soon as the file exists; return the path."""
    import tempfile   # imported here: loading (every classify) never needs it
    with _sigint_held():    # a Ctrl-C here would orphan a file whose name nobody knows
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        created.append(tmp)
        f = os.fdopen(fd, "wb")
    with f:
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        os.fchmod(f.fileno(), 0o666 & ~_umask())
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return tmp


def _umask():
    """The process's umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _sigint_held():
    """Delay Ctrl-C until the block is done (the two renames must happen together)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    old = signal.signal(signal.SIGINT, lambda *a: caught.append(a))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if caught and callable(old):
            old(*caught[0])
