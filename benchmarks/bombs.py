#!/usr/bin/env python3
"""Decoding bombs: how long ``digitnet`` takes, and how much memory, to refuse them.

Usage::

    python benchmarks/bombs.py [--json OUT]

Builds, in a temporary folder, the small hostile files of the hostile-files issue -- each a
few hundred KB or a few MB that would cost gigabytes or minutes if decoded naively:

- ``weights-bomb.npz``: a deflated npz holding a *valid* 784-159000-10 float32 network of
  zeros (126 M parameters, 506 MB inflated);
- ``idx-bomb/t10k-images-idx3-ubyte.gz``: a gzipped IDX file claiming 2,739,137 images
  (2.1 GB of zeros);
- ``scans.jpg``: a 7000x7000 progressive JPEG whose last scan is repeated to 10,000 scans;
- ``float.tif``: a 49-megapixel float32 TIFF, deflate-compressed (196 MB decoded);

then runs the installed ``digitnet`` on each (``classify`` and ``evaluate``) as a fresh
process and reports its wall time, peak RSS (``ru_maxrss`` of exactly that child, via
``os.wait4``), exit code and message. Target: each refused (exit 1, one line) within 1 s
and under 300 MB. A plain ``classify`` of a good PNG is measured alongside for scale.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def exe():
    found = shutil.which("digitnet", path=str(Path(sys.executable).parent)) or shutil.which("digitnet")
    if not found:
        sys.exit("bombs.py: the digitnet command is not installed (pip install .)")
    return found


def weights_bomb(path, width=159000):
    """A deflated npz of a valid 784-WIDTH-10 network, all zeros, written streaming."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, shape in (("W1", (width, 784)), ("b1", (width,)), ("W2", (10, width)),
                            ("b2", (10,))):
            with z.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(
                    f, {"descr": "<f4", "fortran_order": False, "shape": shape})
                left = int(np.prod(shape)) * 4
                zeros = bytes(1 << 22)
                while left:
                    f.write(zeros[:min(left, len(zeros))])
                    left -= min(left, len(zeros))
    return path


def idx_bomb(folder, count=2_739_137):
    """A gzipped IDX image file claiming ``count`` images, with the zeros really there."""
    folder.mkdir()
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb", compresslevel=9) as f:
        f.write(b"\0\0\x08\x03" + count.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2)
        left, zeros = count * 784, bytes(1 << 24)
        while left:
            f.write(zeros[:min(left, len(zeros))])
            left -= min(left, len(zeros))
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"\0\0\x08\x01" + count.to_bytes(4, "big") + bytes(count))
    return folder


def scan_bomb(path, side=7000, scans=10000):
    buf = io.BytesIO()
    Image.new("L", (side, side), 255).save(buf, "JPEG", progressive=True, quality=75)
    data = buf.getvalue()
    last = data.rindex(b"\xff\xda")
    have = data.count(b"\xff\xda")
    path.write_bytes(data[:last] + data[last:-2] * (scans - have + 1) + b"\xff\xd9")
    return path


def float_tiff(path, side=7000):
    Image.fromarray(np.zeros((side, side), np.float32)).save(path, compression="tiff_deflate")
    return path


def good_png(path):
    im = Image.new("L", (96, 96), 255)
    ImageDraw.Draw(im).line([(25, 20), (70, 20), (40, 80)], fill=0, width=8)
    im.save(path)
    return path


# The measuring is done by a small launcher process: a child forked from this (big) one
# would start its peak-RSS count at this process's size.
_LAUNCH = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.Popen(json.loads(sys.argv[1]), stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read().decode(errors="replace")
_pid, status, usage = os.wait4(p.pid, 0)
print(json.dumps({"seconds": time.perf_counter() - t0, "peak_rss": usage.ru_maxrss * 1024,
                  "exit": os.waitstatus_to_exitcode(status), "stderr": err.strip()}))
"""


def measure(cmd):
    """Wall time, peak RSS, exit code and stderr of one run of ``cmd``."""
    out = subprocess.run([sys.executable, "-c", _LAUNCH, json.dumps(cmd)], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", default=None, metavar="OUT", help="also write the raw figures")
    args = ap.parse_args(argv)
    d = exe()
    rows = []
    with tempfile.TemporaryDirectory(prefix="digitnet-bombs-") as tmp:
        tmp = Path(tmp)
        print("building the bombs ...", file=sys.stderr)
        good = good_png(tmp / "good.png")
        wb = weights_bomb(tmp / "weights-bomb.npz")
        ib = idx_bomb(tmp / "idx-bomb")
        sb = scan_bomb(tmp / "scans.jpg")
        ft = float_tiff(tmp / "float.tif")
        cases = [
            ("good PNG, for scale", good, [d, "classify", good, "-q"]),
            ("784-159000-10 weights, deflated", wb, [d, "classify", good, "--weights", wb]),
            ("784-159000-10 weights, deflated", wb, [d, "evaluate", "--weights", wb]),
            ("IDX claiming 2,739,137 images", ib / "t10k-images-idx3-ubyte.gz",
             [d, "evaluate", "--data", ib]),
            ("7000x7000 JPEG, 10,000 scans", sb, [d, "classify", sb]),
            ("49 MP float32 TIFF", ft, [d, "classify", ft]),
        ]
        for what, path, cmd in cases:
            print(f"  {' '.join(map(str, cmd[1:]))[:70]} ...", file=sys.stderr)
            r = measure([str(c) for c in cmd])
            r.update(what=what, file=path.name, size=path.stat().st_size,
                     command="digitnet " + " ".join(str(c).replace(str(tmp) + "/", "")
                                                    for c in cmd[1:]))
            rows.append(r)
    print("| file | size | command | exit | time | peak RSS | message |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        msg = r["stderr"].split(": ", 2)[-1] if r["stderr"] else "(classified)"
        print(f"| {r['what']} | {r['size'] / 1024:,.0f} KB | `{r['command']}` | {r['exit']} | "
              f"{r['seconds']:.2f} s | {r['peak_rss'] / 2**20:.0f} MB | {msg} |")
    bombs = rows[1:]
    ok = all(r["exit"] == 1 and r["seconds"] <= 1.0 and r["peak_rss"] < 300 * 2**20 and
             r["stderr"].count("\n") == 0 for r in bombs)
    print(f"\ntarget (every bomb refused in one line within 1 s and under 300 MB): "
          f"{'met' if ok else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
