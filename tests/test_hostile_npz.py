"""Hostile .npz containers: digitnet reads exactly what numpy.load reads, or refuses.

THE RULE, for any file: ``digitnet.weightfile.load`` either raises WeightFileError (one
line, starting with the path) or returns arrays W1..bL that are bit for bit, shape for
shape, the arrays ``numpy.load(path, allow_pickle=False)`` returns for those names (the
dtype may be converted to native byte order). Never another exception type.

Each crafted file below is built with zipfile plus struct surgery on the raw records;
the byte layouts used (APPNOTE.TXT):

- local header (30 bytes + name): flags at +6, name at +30
- central entry (46 bytes + name + extra + comment): flags +8, CRC +16, sizes +20/+24,
  name length +28, local header offset +42, name +46
- end record (22 bytes + comment): END_FORMAT
"""

import io
import math
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from digitnet import weightfile
from digitnet.network import Network
from digitnet.weightfile import WeightFileError

# Several crafted zips name a member twice on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")

LOCAL, CENTRAL, END, END64, LOCATOR = b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"
# signature, this disk, directory's disk, entries here, entries in all, size, offset, comment length
END_FORMAT = "<4s4H2LH"
# signature, record size (44), made by, needed, disks (2), entries (2), directory size, offset
END64_FORMAT = "<4sQ2H2L4Q"
# signature, disk of the ZIP64 end record, its offset, number of disks
LOCATOR_FORMAT = "<4sLQL"


# --------------------------------------------------------------------------------------
# the rule

def numpy_view(path):
    """numpy's answer for ``path``: None if it refuses (any exception, opening the file or
    reading any member), else [(key, value)] for every member, in order -- value is what
    ``npz[key]`` gives (an array, or bytes for a member that is not .npy). A file numpy
    reads as something other than an npz (a .npy file) gives [("<not an npz>", value)]."""
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception:  # noqa: BLE001 - any exception means numpy refuses
        return None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        return [("<not an npz>", npz)]
    with npz:
        try:
            return [(key, npz[key]) for key in npz.files]   # NpzFile is lazy: read them all
        except Exception:  # noqa: BLE001
            return None


def check_rule(path):
    """Assert THE RULE for ``path``. Returns digitnet's refusal message, or None if it loaded."""
    path = str(path)
    view = numpy_view(path)
    try:
        net, _card = weightfile.load(path)
    except WeightFileError as e:
        message = str(e)
        assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
        assert message.startswith(f"{path}: "), message
        return message
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"digitnet raised {type(e).__name__} (not WeightFileError): {e!r}")
    assert view is not None, f"digitnet loaded a {net.sizes} network from a file numpy.load refuses"
    ours = {}
    for l, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
        ours[f"W{l}"], ours[f"b{l}"] = w, b
    keys = [key for key, _ in view]
    assert sorted(keys) == sorted(ours), (f"numpy.load gives members {keys!r}, digitnet loaded "
                                          f"{sorted(ours)} and nothing else")
    for key, theirs in view:
        assert isinstance(theirs, np.ndarray), f"numpy.load gives {type(theirs).__name__} for {key}"
        mine, native = ours[key], theirs.dtype.newbyteorder("=")
        assert mine.shape == theirs.shape, (key, mine.shape, theirs.shape)
        assert mine.dtype == native, (key, mine.dtype, theirs.dtype)
        assert mine.tobytes() == theirs.astype(native).tobytes(), f"{key}: other values than numpy's"
    return None


def refused(path):
    """Assert THE RULE and that digitnet refuses ``path``; returns the message."""
    message = check_rule(path)
    assert message is not None, f"digitnet loaded {path}"
    return message


# --------------------------------------------------------------------------------------
# building blocks

NET = Network.random([784, 16, 16, 10], rng=0)
DECOY_W1 = -NET.weights[0]          # a second, different W1 hidden in some files


def npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def members(net=NET, dtype=None, fortran=False):
    """[(member name, .npy bytes)] for W1, b1, W2, b2, ... of ``net``."""
    out = []
    for l, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
        for name, a in ((f"W{l}", w), (f"b{l}", b)):
            a = a.astype(dtype or a.dtype)
            out.append((f"{name}.npy", npy(np.asfortranarray(a) if fortran else a)))
    return out


def zip_of(entries, compression=zipfile.ZIP_STORED):
    """A zip holding ``entries`` (name, bytes) in order; duplicate names are kept."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in entries:
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), content, compress_type=compression)
    return buf.getvalue()


def split(data):
    """(everything before the central directory, [central entries as bytes]) of a zip
    without a comment."""
    sig, _, _, _, _, size, offset, comment = struct.unpack(END_FORMAT, data[-22:])
    assert sig == END and comment == 0 and offset + size == len(data) - 22
    directory, entries = data[offset:offset + size], []
    while directory:
        n = 46 + sum(struct.unpack_from("<3H", directory, 28))
        entries.append(directory[:n])
        directory = directory[n:]
    return data[:offset], entries


def end(count, size, offset, comment=b""):
    return struct.pack(END_FORMAT, END, 0, 0, count, count, size, offset, len(comment)) + comment


def assemble(body, entries, count=None, comment=b""):
    """body + central directory + an end record (``count`` entries: the true one by default)."""
    directory = b"".join(entries)
    return body + directory + end(len(entries) if count is None else count, len(directory),
                                  len(body), comment)


def put(data, at, fmt, value):
    """``data`` with the field at ``at`` overwritten."""
    data = bytearray(data)
    struct.pack_into(fmt, data, at, value)
    return bytes(data)


def local_offset(entry):
    return struct.unpack_from("<L", entry, 42)[0]


def two_directories():
    """(body, A, B): the local headers of NET's members followed by a decoy W1.npy (other
    values); central directory A lists the real members, B the decoy in W1's place."""
    body, entries = split(zip_of(members() + [("W1.npy", npy(DECOY_W1))]))
    real, decoy = entries[:-1], entries[-1]
    return body, real, [decoy] + real[1:]


def write(tmp_path, data, name="hostile.npz"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_the_rule_accepts_what_numpy_reads(tmp_path):
    """The checker itself: valid files in every seed variant load and match numpy."""
    for i, seed in enumerate(SEEDS):
        assert check_rule(write(tmp_path, seed.data, f"seed{i}.npz")) is None, seed.name
    assert check_rule(write(tmp_path, assemble(*split(zip_of(members()))))) is None


# --------------------------------------------------------------------------------------
# crafted files

def entry_count_lower_with_duplicate():
    """The end record counts one entry fewer than the directory holds; the extra entry is a
    second W1.npy with other values. A reader that goes by the count sees the first W1,
    one that goes by the directory's size (zipfile) sees both."""
    body, entries = split(zip_of(members() + [("W1.npy", npy(DECOY_W1))]))
    return assemble(body, entries, count=len(entries) - 1)


def test_entry_count_lower_than_directory_with_duplicate(tmp_path):
    path = write(tmp_path, entry_count_lower_with_duplicate())
    assert len(zipfile.ZipFile(path).infolist()) == 7   # zipfile reads past the count
    # Refused for its layout (the end record does not count the directory) before the
    # duplicate is even seen; either reason is a refusal.
    assert re.search(r": (array W1 appears twice|not a plain \.npz: its end record does not "
                     r"describe its central directory)$", refused(path))


def prefixed(prefix):
    """``prefix`` then a valid npz: every offset in the zip is now len(prefix) too small,
    and zipfile silently adds the difference back (its prepended-data adjustment), while
    numpy.load first looks at the file's first bytes to decide what it is."""
    return prefix + zip_of(members())


@pytest.mark.parametrize("prefix", [b"\0" * 1000,                          # numpy: not a zip
                                    LOCAL + bytes(range(256)) * 4,         # numpy: a zip
                                    npy(np.zeros(784, np.float32))],       # numpy: a .npy array
                         ids=["junk", "junk-starting-PK0304", "npy-file"])
def test_polyglot_prepended_data(tmp_path, prefix):
    path = write(tmp_path, prefixed(prefix))
    view = numpy_view(path)
    if view is None or view[0][0] == "<not an npz>":   # numpy gives no W1..bL
        refused(path)
    else:
        check_rule(path)


def zip64_end_record(elsewhere):
    """A ZIP64 end record and locator inserted before the end record, whose 32-bit fields
    are ordinary (not 0xFFFF/0xFFFFFFFF), so by the spec they are to be used. zipfile uses
    the ZIP64 record whenever the locator is there. ``elsewhere``: the ZIP64 record points
    at a second directory that lists the decoy W1, the 32-bit fields at the real one."""
    if elsewhere:
        body, a, b = two_directories()
    else:
        body, a = split(zip_of(members()))
        b = []
    cd_a, cd_b = b"".join(a), b"".join(b)
    listed, at = (b, len(body) + len(cd_a)) if elsewhere else (a, len(body))
    record = struct.pack(END64_FORMAT, END64, 44, 45, 45, 0, 0, len(listed), len(listed),
                         len(b"".join(listed)), at)
    locator = struct.pack(LOCATOR_FORMAT, LOCATOR, 0, len(body) + len(cd_a) + len(cd_b), 1)
    return body + cd_a + cd_b + record + locator + end(len(a), len(cd_a), len(body))


@pytest.mark.parametrize("elsewhere", [False, True], ids=["same-directory", "other-directory"])
def test_zip64_end_record_with_ordinary_32bit_fields(tmp_path, elsewhere):
    check_rule(write(tmp_path, zip64_end_record(elsewhere)))


def local_name_differs():
    """b1.npy's local header calls it W1.npy: the central directory says b1, a reader that
    walks the local headers sees W1 twice."""
    body, entries = split(zip_of(members()))
    at = local_offset(entries[1]) + 30
    assert body[at:at + 6] == b"b1.npy"
    return assemble(body[:at] + b"W1.npy" + body[at + 6:], entries)


def test_local_name_differs_from_central_name(tmp_path):
    refused(write(tmp_path, local_name_differs()))


def encrypted(bit, central=True, local=True):
    """W1.npy flagged as encrypted (general purpose ``bit``) in its central entry and/or
    its local header; the data stays plain."""
    body, entries = split(zip_of(members()))
    if central:
        entries[0] = put(entries[0], 8, "<H", bit)
    if local:
        body = put(body, local_offset(entries[0]) + 6, "<H", bit)
    return assemble(body, entries)


@pytest.mark.parametrize("bit", [0x0001, 0x0040], ids=["bit0-encrypted", "bit6-strong-encryption"])
def test_encryption_flags(tmp_path, bit):
    refused(write(tmp_path, encrypted(bit)))


def overlapping(how):
    """Two members share bytes. ``same-header``: b1.npy's central entry points at W1.npy's
    local header. ``same-name``: W1.npy's central entry appears twice. ``swallow``: W1.npy's
    sizes (and CRC) in the central directory grow to cover b1.npy's header and data too."""
    body, entries = split(zip_of(members()))
    if how == "same-header":
        entries[1] = put(entries[1], 42, "<L", local_offset(entries[0]))
    elif how == "same-name":
        entries.append(entries[0])
    else:
        start = local_offset(entries[0]) + 30 + len("W1.npy")
        size = local_offset(entries[2]) - start
        for at, fmt, value in ((16, "<L", zlib.crc32(body[start:start + size])),
                               (20, "<L", size), (24, "<L", size)):
            entries[0] = put(entries[0], at, fmt, value)
    return assemble(body, entries)


@pytest.mark.parametrize("how", ["same-header", "same-name", "swallow"])
def test_overlapping_members(tmp_path, how):
    refused(write(tmp_path, overlapping(how)))


def fake_end_in_comment(elsewhere):
    """The real end record's comment holds a fake end record; zipfile's search from the
    back finds the fake one. ``elsewhere``: the comment is a second directory listing the
    decoy W1 plus an end record pointing at it (ending the file exactly, as the real one's
    comment length also does). Otherwise: the end record of an empty zip, then text."""
    if not elsewhere:
        body, entries = split(zip_of(members()))
        return assemble(body, entries, comment=end(0, 0, 0) + b" -- built by digitnet")
    body, a, b = two_directories()
    cd_a, cd_b = b"".join(a), b"".join(b)
    comment = cd_b + end(len(b), len(cd_b), len(body) + len(cd_a) + 22)
    return body + cd_a + end(len(a), len(cd_a), len(body), comment)


@pytest.mark.parametrize("elsewhere", [False, True], ids=["empty-zip", "other-directory"])
def test_fake_end_record_in_comment(tmp_path, elsewhere):
    check_rule(write(tmp_path, fake_end_in_comment(elsewhere)))


def duplicated(second):
    """A valid npz plus a second member ``second`` that numpy also calls W1 (other values)."""
    return zip_of(members() + [(second, npy(DECOY_W1))])


@pytest.mark.parametrize("second", ["W1.npy", "W1"])
def test_duplicate_member_names(tmp_path, second):
    assert re.search(r": array W1 appears twice$", refused(write(tmp_path, duplicated(second))))


def newline_name(how):
    """A member name with a newline. ``instead``: W1.npy is named "W1\\n.npy". Beside the
    real members: ``extra`` a "W1\\n.npy" (decoy values), ``extra-no-suffix`` a "b1\\n",
    ``extra-corrupt`` a "W1\\n.npy" that is not .npy, ``extra-int`` a "W1\\n.npy" of int32
    (the last two make digitnet name the member in its message)."""
    if how == "instead":
        return zip_of([("W1\n.npy" if n == "W1.npy" else n, c) for n, c in members()])
    extra = {"extra": ("W1\n.npy", npy(DECOY_W1)),
             "extra-no-suffix": ("b1\n", npy(NET.biases[0] + 1)),
             "extra-corrupt": ("W1\n.npy", b"junk"),
             "extra-int": ("W1\n.npy", npy(np.zeros(3, np.int32)))}[how]
    return zip_of(members() + [extra])


@pytest.mark.parametrize("how", ["instead", "extra", "extra-no-suffix", "extra-corrupt", "extra-int"])
def test_newline_in_member_name(tmp_path, how):
    refused(write(tmp_path, newline_name(how)))   # refused() checks the message is one line


# Files zipfile (so numpy, so digitnet) reads one way and other zip readers another: the
# rule holds (digitnet reads what numpy reads), but what the file *is* depends on the
# reader, so a weight file like this should be refused. (id, builder, what others see:
# checked by hand with Info-ZIP unzip 6 and Java's ZipFile / ZipInputStream.)
DISAGREEING = [
    ("zip64-record-elsewhere", lambda: zip64_end_record(elsewhere=True),
     "zipfile follows the ZIP64 record to the decoy W1; unzip follows the 32-bit fields and "
     "fails (exit 3), Java's ZipFile fails, a streaming reader meets the real W1 first"),
    ("end-record-in-comment", lambda: fake_end_in_comment(elsewhere=True),
     "zipfile (like unzip) takes the last end record, so the decoy W1; the real end record "
     "lists the real W1, and a streaming reader meets the real W1 first"),
    ("entry-count-lower", lambda: assemble(*split(zip_of(members())), count=5),
     "zipfile reads the directory by its size (6 arrays), the end record says 5; unzip "
     "reports the archive as broken (exit 3)"),
    ("encrypted-in-local-header-only", lambda: encrypted(0x0001, central=False),
     "zipfile reads flags from the central directory only (plain W1); a streaming reader "
     "(Java's ZipInputStream) refuses W1 as encrypted"),
]


@pytest.mark.parametrize("make, others", [d[1:] for d in DISAGREEING], ids=[d[0] for d in DISAGREEING])
def test_files_that_zip_readers_disagree_on_are_refused(tmp_path, make, others):
    path = write(tmp_path, make())
    assert check_rule(path) is not None, f"digitnet loaded it: {others}"


# --------------------------------------------------------------------------------------
# a deflate bomb

BOMB_HIDDEN = 159_000   # 784-159000-10 float32: 126,405,010 parameters, 506 MB inflated


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A valid npz (ZIP_DEFLATED) of a 784-159000-10 float32 network whose weights are all
    zero: ~500 KB on disk, 506 MB inflated. Written streaming, never held in memory."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    zero = bytes(1 << 22)
    shapes = [("W1", (BOMB_HIDDEN, 784)), ("b1", (BOMB_HIDDEN,)), ("W2", (10, BOMB_HIDDEN)), ("b2", (10,))]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, shape in shapes:
            with z.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                         "shape": shape})
                left = 4 * math.prod(shape)
                while left:
                    f.write(zero[:min(left, len(zero))])
                    left -= min(left, len(zero))
    assert path.stat().st_size < 1 << 20
    return path


def _one_gigabyte():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


# One BLAS thread: OpenBLAS reserves address space per thread, which on a many-core
# machine alone could exceed the 1 GiB limit before digitnet runs.
LIMITED = dict(preexec_fn=_one_gigabyte, capture_output=True, text=True, timeout=120,
               env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})


def test_deflate_bomb_is_refused(bomb):
    # numpy's view is not computed: it would inflate 506 MB. Refusal satisfies the rule.
    with pytest.raises(WeightFileError) as e:
        weightfile.load(bomb)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"{bomb}: "), message
    assert "parameters" in message, message


def test_deflate_bomb_in_one_gigabyte_of_address_space(bomb):
    code = ("import sys\n"
            "from digitnet import weightfile\n"
            "try:\n"
            "    weightfile.load(sys.argv[1])\n"
            "except weightfile.WeightFileError as e:\n"
            "    print(e)\n"
            "else:\n"
            "    print('loaded')\n"
            "try:\n"
            "    bytearray(1 << 30)\n"
            "except MemoryError:\n"
            "    print('the limit holds')\n")
    p = subprocess.run([sys.executable, "-c", code, str(bomb)], **LIMITED)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    refusal, limit = p.stdout.splitlines()
    assert limit == "the limit holds"
    assert refusal.startswith(f"{bomb}: ") and "parameters" in refusal, refusal


def test_deflate_bomb_through_the_cli(bomb, tmp_path):
    digitnet = shutil.which("digitnet", path=str(Path(sys.executable).parent))
    assert digitnet, "the digitnet executable is not installed next to the interpreter"
    png = tmp_path / "seven.png"
    im = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(im).line((7, 6, 21, 6, 12, 23), fill=255, width=3)
    im.save(png)
    p = subprocess.run([digitnet, "classify", "--weights", str(bomb), str(png)], **LIMITED)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("digitnet: "), p.stderr
    assert "Traceback" not in p.stderr and "MemoryError" not in p.stderr, p.stderr
    assert "internal error" not in p.stderr, p.stderr
    assert "parameters" in p.stderr, p.stderr


# --------------------------------------------------------------------------------------
# differential fuzzing: mutated valid files, numpy.load against digitnet

class Seed(NamedTuple):
    name: str
    data: bytes
    locals: tuple     # offsets of local headers
    centrals: tuple   # offsets of central entries


def small_net(sizes, dtype, rng):
    rng = np.random.default_rng(rng)
    return Network([rng.standard_normal((o, i)).astype(dtype) for i, o in zip(sizes[:-1], sizes[1:])],
                   [rng.standard_normal(o).astype(dtype) for o in sizes[1:]])


def _arrays(net):
    return {name[:-4]: np.load(io.BytesIO(content)) for name, content in members(net)}


def _seeds():
    n32 = small_net([784, 3, 10], np.float32, 1)
    n64 = small_net([784, 2, 2, 10], np.float64, 2)
    made = {}
    buf = io.BytesIO()
    np.savez(buf, **_arrays(n32))
    made["savez-f32-stored"] = buf.getvalue()
    buf = io.BytesIO()
    np.savez_compressed(buf, **_arrays(n64))
    made["savez_compressed-f64-deflated"] = buf.getvalue()
    with tempfile.TemporaryDirectory() as d:
        weightfile.save(Path(d) / "m.npz", n32)
        made["digitnet-save-f32-stored"] = (Path(d) / "m.npz").read_bytes()
    made["zipfile-f64-bigendian-fortran-deflated"] = zip_of(
        members(n64, dtype=">f8", fortran=True), zipfile.ZIP_DEFLATED)
    return [Seed(name, data, tuple(m.start() for m in re.finditer(LOCAL, data)),
                 tuple(m.start() for m in re.finditer(CENTRAL, data)))
            for name, data in made.items()]


SEEDS = _seeds()
# Where each record's fields start: mutations aim at them.
LOCAL_FIELDS = (0, 4, 6, 8, 14, 18, 22, 26, 28, 30)
CENTRAL_FIELDS = (0, 6, 8, 10, 16, 20, 24, 28, 30, 32, 42, 46)
END_FIELDS = (0, 8, 10, 12, 16, 20)
CHUNKS = st.one_of(st.binary(min_size=1, max_size=8),
                   st.sampled_from([END, END64, LOCATOR, CENTRAL, LOCAL, b"\xff\xff", b"\xff" * 4,
                                    b"\0\0", b"\0" * 4, b"\n", b".npy", b"\x93NUMPY", b"\x01\x00"]))


@st.composite
def mutations(draw):
    """(seed index, ((kind, position, payload), ...)): a small recipe, readable when
    hypothesis reports it. Positions cluster in the last 200 bytes (central directory, end
    record) and on the fields of the end record, local headers and central entries; a few
    fall anywhere."""
    i = draw(st.integers(0, len(SEEDS) - 1))
    seed, ops = SEEDS[i], []
    for _ in range(draw(st.integers(1, 4))):
        region = draw(st.sampled_from(["tail", "tail", "end", "local", "central", "anywhere"]))
        if region == "tail":
            pos = len(seed.data) - 1 - draw(st.integers(0, 199))
        elif region == "end":
            pos = len(seed.data) - 22 + draw(st.one_of(st.sampled_from(END_FIELDS), st.integers(0, 22)))
        elif region == "local":
            pos = draw(st.sampled_from(seed.locals)) + draw(st.one_of(st.sampled_from(LOCAL_FIELDS),
                                                                      st.integers(0, 127)))
        elif region == "central":
            pos = draw(st.sampled_from(seed.centrals)) + draw(st.one_of(st.sampled_from(CENTRAL_FIELDS),
                                                                        st.integers(0, 57)))
        else:
            pos = draw(st.integers(0, len(seed.data)))
        kind = draw(st.sampled_from(["flip", "truncate", "delete", "insert", "overwrite", "field"]))
        if kind == "flip":
            payload = draw(st.integers(1, 255))
        elif kind == "delete":
            payload = draw(st.integers(1, 64))
        elif kind == "field":
            payload = draw(st.sampled_from(["<H", "<L"])), draw(st.one_of(
                st.sampled_from([0, 1, 0xFFFF, 0xFFFFFFFF, 44, 45, len(seed.data)]),
                st.integers(0, 0xFFFF)))
        else:
            payload = draw(CHUNKS) if kind != "truncate" else None
        ops.append((kind, pos, payload))
    return i, tuple(ops)


def mutate(i, ops):
    data = bytearray(SEEDS[i].data)
    for kind, pos, payload in ops:
        pos = max(0, min(pos, len(data)))
        if kind == "flip" and pos < len(data):
            data[pos] ^= payload
        elif kind == "truncate":
            del data[pos:]
        elif kind == "delete":
            del data[pos:pos + payload]
        elif kind == "insert":
            data[pos:pos] = payload
        elif kind == "overwrite":
            data[pos:pos + len(payload)] = payload
        elif kind == "field":
            fmt, value = payload
            value &= 0xFFFF if fmt == "<H" else 0xFFFFFFFF
            data[pos:pos + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(data)


@settings(max_examples=int(os.environ.get("DIGITNET_FUZZ_EXAMPLES", "300")), deadline=None,
          database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutation=mutations())
# Always tried: one byte before the first local header (numpy.load then sniffs "not a zip").
@example(mutation=(0, (("insert", 0, b"\0"),)))
def test_mutated_npz_loads_as_numpy_reads_it_or_is_refused(tmp_path, mutation):
    check_rule(write(tmp_path, mutate(*mutation), "fuzz.npz"))
