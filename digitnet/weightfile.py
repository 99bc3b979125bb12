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
import hashlib
import io
import json
import math
import os
import re
import stat
import struct
import zipfile

import numpy as np

from .errors import WeightFileError, one_line, printable
from .network import Network

__all__ = ["WeightFileError", "SHIPPED", "MAX_PARAMETERS", "shipped_dir", "resolve", "npz_path",
           "card_path", "load", "save", "check", "check_sizes"]

FORMAT = "digitnet-weights/1"
N_INPUTS, N_OUTPUTS = 784, 10
#: Most weights and biases a weight file may hold: 40x the wide model, far beyond any
#: sensible MLP for 28x28 digits. Checked from the .npy headers before anything is inflated.
MAX_PARAMETERS = 20_000_000
#: Largest weight file, and most bytes its arrays may inflate to (float64 at the limit).
MAX_FILE_BYTES = 8 * MAX_PARAMETERS + (1 << 20)
MAX_LAYERS = 64
SHIPPED = ("default", "wide")
_NAME = re.compile(r"([Wb])([1-9][0-9]*)")    # used with fullmatch: "W1\n" is no name


def shipped_dir():
    """Folder of the shipped weight files: ``digitnet/weights`` once installed.

    In a source checkout that has not been installed, the top-level ``weights/`` folder.
    """
    here = os.path.dirname(os.path.realpath(__file__))
    installed = os.path.join(here, "weights")
    return installed if os.path.isdir(installed) else os.path.join(os.path.dirname(here), "weights")


def resolve(spec):
    """Turn ``--weights`` (a shipped model's name or a path) into the path (str) of an npz.

    A bare ``default`` or ``wide`` always names the shipped model, whatever the current
    folder holds (a local file of that name is ``./default.npz``). Anything else is a
    path: ``m.npz`` itself; ``m.json`` the npz beside that card; ``m`` finds ``m.npz``
    when there is no file named ``m``.
    """
    spec = os.fspath(spec or "default")
    if spec in SHIPPED:
        return os.path.join(shipped_dir(), f"{spec}.npz")
    p = os.path.expanduser(spec)
    stem, suffix = os.path.splitext(p)
    if suffix == ".json":
        return stem + ".npz"
    if suffix != ".npz" and not os.path.isfile(p) and os.path.isfile(p + ".npz"):
        return p + ".npz"
    return p


def npz_path(path):
    """The npz name :func:`save` writes for ``path``: ``m`` -> ``m.npz``; ``m.npz`` stays.

    Any other suffix (``m.json``, ``m.bin``) raises :class:`WeightFileError`: a weight file
    is NAME.npz with its card NAME.json beside it, and guessing would write other names
    than the user gave.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    if name.lower() in ("", ".", "..", ".npz", ".json"):
        raise WeightFileError(f"{printable(path) or repr(path)}: a weight file needs a name "
                              "(NAME.npz)")
    suffix = os.path.splitext(path)[1]
    if suffix == ".npz":
        return path
    if suffix:
        raise WeightFileError(f"{printable(path)}: a weight file's name ends in .npz (its "
                              "model card .json is written beside it)")
    return path + ".npz"


def card_path(npz_path):
    """The model card's path (str) for an npz path: same name, ``.json``."""
    return os.path.splitext(os.fspath(npz_path))[0] + ".json"


def load(spec="default"):
    """Load and validate a network; returns ``(network, card)``.

    ``card`` is the model card as a dict, or None when the npz has no card beside it.
    Raises :class:`WeightFileError` with a message naming the file and what is wrong.
    """
    path = resolve(spec)
    shown = printable(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        hint = f" (shipped models: {', '.join(SHIPPED)})" if os.sep not in str(spec) else ""
        raise WeightFileError(f"{shown}: weight file not found{hint}") from None
    except (OSError, ValueError) as e:
        raise WeightFileError(f"{shown}: cannot read ({one_line(e)})") from None
    if not stat.S_ISREG(st.st_mode):   # a folder, or a FIFO that would block the read
        raise WeightFileError(f"{shown}: not a file")
    if st.st_size > MAX_FILE_BYTES:
        raise WeightFileError(f"{shown}: {st.st_size:,} bytes is too large for a weight file "
                              f"(limit {MAX_FILE_BYTES:,})")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise WeightFileError(f"{shown}: cannot read ({one_line(e)})") from None
    if len(data) > MAX_FILE_BYTES:
        raise WeightFileError(f"{shown}: too large for a weight file (it grew while read)")
    net = _build_network(shown, _read_npz(shown, data))
    card = None
    cpath = card_path(path)
    if os.path.lexists(cpath):   # a dangling link or a loop is an error, not "no card"
        card = _read_card(cpath)
        _check_card(cpath, card, net, hashlib.sha256(data).hexdigest())
    return net, card


def _read_npz(path, data):
    """The arrays of the npz held in ``data``, exactly as ``numpy.load`` reads them.

    The zip container is read by ``zipfile``, the very module ``numpy.load`` uses, and
    each member is opened by name as numpy opens it, so the two can never disagree about
    which bytes are which array; duplicate names (where "the last one wins" would be a
    matter of which reader you ask) are refused. Before any array data is inflated, every
    member's ``.npy`` header is read and checked -- dtype, shape, and the total number of
    parameters against :data:`MAX_PARAMETERS` -- so that a small file cannot make us
    allocate gigabytes (a deflate bomb, or a header claiming a huge shape).
    """
    fail = lambda why: WeightFileError(f"{path}: {why}")  # noqa: E731
    # numpy.load decides what a file is by its first bytes: only a file that starts as a
    # zip is an npz to it (anything else is one .npy array, or pickled data).
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise fail("not a valid .npz (zip) file -- truncated or corrupt?")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception:  # noqa: BLE001 - BadZipFile, but also ValueError, struct.error...
        raise fail("not a valid .npz (zip) file -- truncated or corrupt?") from None
    if len(infos) > 2 * MAX_LAYERS:
        raise fail(f"{len(infos)} members is too many for a weight file")
    _check_layout(fail, data, infos)
    members = {}
    for info in infos:
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if not _NAME.fullmatch(name):
            raise fail(f"unexpected array {printable(name)!r} (a weight file holds only W1, "
                       "b1, W2, b2, ...)")
        if name in members:
            raise fail(f"array {name} appears twice")
        members[name] = info.filename
    inflated = sum(info.file_size for info in infos)
    if inflated > MAX_FILE_BYTES:
        raise fail(f"arrays would inflate to {inflated:,} bytes: too large for a weight file "
                   f"(at most {MAX_PARAMETERS:,} parameters)")

    headers, parameters = {}, 0
    for name, member in members.items():
        with _member_errors(fail, name):
            with zf.open(member) as f:
                shape, dtype, order = _npy_header(fail, name, f)
        parameters += math.prod(shape)   # Python ints: a forged shape cannot overflow
        if parameters > MAX_PARAMETERS:
            raise fail(f"array {name} has shape {shape}: more than {MAX_PARAMETERS:,} "
                       "parameters in all is too large for a weight file (a 784-16-16-10 "
                       "network has 13,002)")
        headers[name] = shape, dtype, order
    # Only now is any array's data inflated. Each member is opened again (its header read
    # a second time: a few hundred bytes) rather than kept open through the pass above.
    arrays = {}
    for name, member in members.items():
        shape, dtype, order = headers[name]
        nbytes = math.prod(shape) * dtype.itemsize
        with _member_errors(fail, name):
            with zf.open(member) as f:
                _npy_header(fail, name, f)
                raw = f.read(nbytes + 1)
        if len(raw) != nbytes:
            raise fail(f"array {name} is truncated or has trailing bytes")
        arr = np.frombuffer(raw, dtype=dtype).reshape(shape, order=order)
        arrays[name] = np.ascontiguousarray(arr, dtype=dtype.newbyteorder("="))
    return arrays


_LOCAL = struct.Struct("<4s5H3I2H")    # a zip member's local header


def _check_layout(fail, data, infos):
    """Refuse any zip whose layout is not the plain one every writer produces.

    Members one after another from the first byte, each local header naming the same file
    with the same flags as its central-directory entry, no gaps and no overlaps; then the
    central directory, then the end record, which ends the file and counts every entry.
    Readers find members in different ways -- by the end record, by the central
    directory's size, by scanning local headers -- and on a file like this they all find
    the same ones: no crafted archive can show digitnet other weights than another tool.
    """
    pos = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset != pos:
            raise fail("not a plain .npz: its zip members overlap or have gaps between them")
        if pos + _LOCAL.size > len(data):
            raise fail("not a valid .npz (zip) file -- truncated or corrupt?")
        (sig, _, flags, _, _, _, _, _, _, name_len, extra_len) = _LOCAL.unpack_from(data, pos)
        name = data[pos + _LOCAL.size:pos + _LOCAL.size + name_len]
        if sig != b"PK\x03\x04" or flags != info.flag_bits or name != _raw_name(info):
            raise fail("not a plain .npz: a zip member's local header does not match the "
                       "central directory")
        if flags & 0x41:   # bit 0: encrypted; bit 6: strong encryption
            raise fail("encrypted zip members are not supported")
        extra = data[pos + _LOCAL.size + name_len:pos + _LOCAL.size + name_len + extra_len]
        pos += _LOCAL.size + name_len + extra_len + info.compress_size
        if flags & 0x08:   # sizes in a data descriptor after the data (streamed writers)
            pos += 4 if data[pos:pos + 4] == b"PK\x07\x08" else 0
            pos += 20 if _has_zip64_field(extra) else 12     # 8-byte sizes with ZIP64
    end = len(data) - 22
    if end < pos or data[end:end + 4] != b"PK\x05\x06":
        raise fail("not a plain .npz: something other than one end record follows its zip "
                   "members (a comment, ZIP64 records or a second archive)")
    _, _, _, here, count, cd_size, cd_offset, comment = struct.unpack_from("<4s4H2IH", data, end)
    if (here, count, cd_offset, cd_offset + cd_size, comment) != (len(infos), len(infos), pos, end, 0):
        raise fail("not a plain .npz: its end record does not describe its central directory")


def _has_zip64_field(extra):
    """Whether a local header's extra field holds a ZIP64 record (tag 0x0001)."""
    p = 0
    while p + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, p)
        if tag == 0x0001:
            return True
        p += 4 + length
    return False


def _raw_name(info):
    """A member's name as the bytes stored in its headers."""
    if info.flag_bits & 0x800:
        return info.orig_filename.encode("utf-8")
    try:
        return info.orig_filename.encode("cp437")
    except UnicodeEncodeError:
        return info.orig_filename.encode("utf-8")


@contextlib.contextmanager
def _member_errors(fail, name):
    """Any failure while reading member ``name`` -> one WeightFileError line."""
    try:
        yield
    except WeightFileError:
        raise
    except Exception as e:  # noqa: BLE001
        # zipfile, zlib and numpy's header parser raise a zoo of types on hostile bytes
        # (BadZipFile for a CRC or name mismatch, zlib.error, SyntaxError, ValueError,
        # NotImplementedError for unknown compression or strong encryption...): every
        # one means the member is corrupt.
        raise fail(f"array {name} is corrupt ({one_line(e)})") from None


_FLOAT_DTYPES = tuple(np.dtype(t) for t in ("<f4", "<f8", ">f4", ">f8"))


def _npy_header(fail, name, f):
    """Read and check one ``.npy`` header from ``f``: returns (shape, dtype, order)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"unsupported .npy version {version}")
    if dtype.hasobject:
        raise fail(f"array {name} holds Python objects (pickled data is never loaded)")
    if dtype not in _FLOAT_DTYPES:
        raise fail(f"array {name} has dtype {dtype}, expected float32 or float64")
    if any(d < 0 for d in shape):
        raise fail(f"array {name} has a negative size in its shape {shape}")
    return shape, dtype, "F" if fortran else "C"


def _build_network(path, arrays):
    """Check names, sequence, shapes, dtypes and values, then make the Network."""
    fail = lambda why: WeightFileError(f"{path}: {why}")  # noqa: E731
    # The highest layer number named decides how many layers there should be: with only
    # b3 missing, "array b3 is missing" is the fault, not "unexpected array W3".
    n_layers = max((int(_NAME.fullmatch(name).group(2)) for name in arrays), default=0)
    if not arrays:
        raise fail("no arrays (expected W1, b1, W2, b2, ...)")
    for l in range(1, n_layers + 1):
        for kind in "Wb":
            if f"{kind}{l}" not in arrays:
                raise fail(f"array {kind}{l} is missing")
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
    shown = printable(cpath)
    try:
        st = os.stat(cpath)
        if not stat.S_ISREG(st.st_mode):   # a FIFO named NAME.json would block forever
            raise WeightFileError(f"{shown}: model card is not a regular file")
        if st.st_size > 1 << 20:
            raise WeightFileError(f"{shown}: model card larger than 1 MiB")
        with open(cpath, encoding="utf-8") as f:
            card = json.loads(f.read(1 << 20))
    except WeightFileError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise WeightFileError(f"{shown}: unreadable model card ({one_line(e)})") from None
    if not isinstance(card, dict):
        raise WeightFileError(f"{shown}: model card must be a JSON object")
    return card


def _check_card(cpath, card, net, digest):
    """The card must describe this npz: same hash, same layer sizes, sigmoid activation."""
    shown = printable(cpath)
    want = card.get("npz_sha256")
    if want is not None and want != digest:
        npz_name = printable(os.path.basename(os.path.splitext(cpath)[0] + ".npz"))
        raise WeightFileError(f"{shown}: npz_sha256 does not match {npz_name} "
                              "(the weights were changed or the files do not belong together)")
    layers = card.get("layers")
    if layers is not None and layers != net.sizes:
        # json.dumps: whatever the card holds, the message stays on one line.
        raise WeightFileError(f"{shown}: card says layers {json.dumps(layers)[:100]}, "
                              f"the npz holds {net.sizes}")
    act = card.get("activation", "sigmoid")
    if act != "sigmoid":
        raise WeightFileError(f"{shown}: activation {printable(repr(act))[:100]} is not "
                              "supported (only sigmoid)")


def check_sizes(sizes):
    """Raise :class:`WeightFileError` if a network of these layer sizes could not be saved
    and loaded back (too many parameters) -- checked before training starts."""
    parameters = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    if parameters > MAX_PARAMETERS:
        raise WeightFileError(f"{'-'.join(map(str, sizes))}: {parameters:,} parameters is "
                              f"more than a weight file may hold ({MAX_PARAMETERS:,})")


def save(path, net, card=None):
    """Write ``path`` (.npz, see :func:`npz_path`) and its model card (.json) atomically.

    ``card`` holds whatever the caller knows (training details, evaluation); this function
    fills in the format, layer sizes, activation, input convention, dtype and the npz's
    SHA-256. Both files are written in full to temporary files beside the targets and
    then renamed over them together (:func:`digitnet.files.atomic_files`), so an existing
    good pair is never left half-overwritten. Returns ``(npz_path, card_path, card)``.
    """
    from .files import atomic_files   # only saving needs it, never a classify

    path = npz_path(path)
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
    full["npz_sha256"] = hashlib.sha256(data).hexdigest()
    cpath = card_path(path)
    with atomic_files(path, cpath) as (npz_file, card_file):
        npz_file.write(data)
        card_file.write((json.dumps(full, indent=2) + "\n").encode())
    return path, cpath, full


def _npz_bytes(arrays):
    """The bytes of an .npz holding ``arrays`` -- the same bytes for the same arrays.

    ``np.savez`` stamps each zip member with the current time, so saving the same weights
    twice would give different files (and SHA-256s). Writing the members ourselves with a
    fixed timestamp keeps the file a plain, uncompressed NumPy .npz that any reader opens.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(info, member.getvalue())
    return buf.getvalue()
