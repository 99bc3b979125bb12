#!/usr/bin/env python3
"""How long one live update of the draw page takes: ``POST /api/classify?details=1``.

    python benchmarks/draw.py [--updates 200] [--models default,wide]

Starts the real ``digitnet draw --no-browser --port 0`` and sends it what the page sends
while you draw: the 280x280 pad as a 140x140 PNG (RGBA, black strokes on white), with ``details=1``
and a pointed-at neuron (``neuron=2:3``), so the answer holds everything the page draws --
activations, z, the strongest connections, the gradient x input maps and the neuron's
contributions. The canvases are MNIST test digits (Y. LeCun, C. Cortes, C. J. C. Burges,
CC BY-SA 3.0; the copy shipped with digitnet) drawn large as dark ink on white, like a
drawing on the pad, each sent once, on one kept-alive connection like the browser's.

Reports the round-trip time per update, median and 95th percentile, for each model, on
an idle machine and with a CPU-bound process on one core. Target: <= 20 ms per update for
the default model, checked here at the 95th percentile (the page sends at most one every
50 ms, and never two at once).
"""

from __future__ import annotations

import argparse
import http.client
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

from imageset import Busy


def canvases(n):
    """``n`` PNGs like the page's: MNIST test digits at 140x140 RGBA, dark ink on white."""
    import numpy as np
    from PIL import Image

    from digitnet import mnist
    x, _ = mnist.load_split(mnist.bundled_dir(), "test")
    out = []
    for i in range(n):
        ink = Image.fromarray(np.rint(255 - 255 * x[i].reshape(28, 28)).astype(np.uint8))
        im = ink.resize((140, 140), Image.Resampling.BILINEAR).convert("RGBA")
        buf = io.BytesIO()
        im.save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def measure(port, model, bodies):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    path = f"/api/classify?model={model}&details=1&neuron=2:3"
    times = []
    for i, body in enumerate([bodies[0]] * 5 + bodies):     # 5 warm-up requests
        t = time.perf_counter()
        c.request("POST", path, body=body, headers={"Content-Type": "image/png"})
        r = c.getresponse()
        r.read()
        if r.status not in (200, 422):
            raise SystemExit(f"unexpected status {r.status}")
        if i >= 5:
            times.append((time.perf_counter() - t) * 1000)
    c.close()
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--updates", type=int, default=200)
    ap.add_argument("--models", default="default,wide")
    args = ap.parse_args()
    bodies = canvases(args.updates)
    exe = str(Path(sys.executable).parent / "digitnet")
    server = subprocess.Popen([exe, "draw", "--no-browser", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(server.stdout.readline().strip().rsplit(":", 1)[1].strip("/"))
        rows = []
        for cond in ("idle", "one core busy"):
            for model in args.models.split(","):
                if cond == "idle":
                    med, p95 = measure(port, model, bodies)
                else:
                    with Busy():
                        med, p95 = measure(port, model, bodies)
                rows.append((model, cond, med, p95))
                print(f"{model:8} {cond:14} median {med:6.1f} ms  p95 {p95:6.1f} ms",
                      file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
    print(f"\n### One draw-page update (`POST /api/classify?details=1`), {args.updates} "
          "canvases\n")
    print("| model | machine | median | 95th percentile | 95th percentile ≤ 20 ms |")
    print("|---|---|---|---|---|")
    for model, cond, med, p95 in rows:
        print(f"| {model} | {cond} | {med:.1f} ms | {p95:.1f} ms | "
              f"{'yes' if p95 <= 20 else '**no**'} |")
    print("\nThe target (<= 20 ms) is the default model's; the wide one has none.")


if __name__ == "__main__":
    main()
