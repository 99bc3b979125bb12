"""`digitnet draw`'s server, in process on an ephemeral port: the API gives classify's
numbers exactly, refuses what it should (bad bodies, foreign Hosts, cross-origin posts,
floods) and keeps serving after every refusal."""

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
from PIL import Image

from digitnet import inspection
from digitnet.server import MAX_BODY, DrawApp, make_server
from helpers import DIGITNET, _env, draw_seven, encode, run, to_image

EXAMPLES = os.path.join(os.path.dirname(__import__("digitnet").__file__), "examples")


@pytest.fixture(scope="module")
def server():
    app = DrawApp("default")
    srv = make_server(app, 0)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def request(port, method, path, body=None, headers=None, host=None):
    """(status, headers, parsed JSON or bytes) of one request on a fresh connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Host": host or f"127.0.0.1:{port}", **(headers or {})}
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    ctype = r.getheader("Content-Type", "")
    return r.status, dict(r.getheaders()), json.loads(data) if "json" in ctype else data


def classify_json(path, *extra):
    r = run("classify", "--json", *extra, path)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def images(tmp_path_factory, mnist_test):
    """Image files as a user (or the canvas) sends them: PNG from a canvas-like drawing,
    a JPEG photo, an MNIST digit in a PNG."""
    d = tmp_path_factory.mktemp("draw")
    x, _ = mnist_test
    paths = {"seven.png": encode(draw_seven((280, 280)).convert("RGBA"), "PNG"),
             "digit.jpg": encode(to_image(x[3]).convert("RGB"), "JPEG", quality=85),
             "mnist.png": encode(to_image(x[0]), "PNG")}
    for name, data in paths.items():
        (d / name).write_bytes(data)
    return {n: d / n for n in paths} | {"photo-7.jpg": os.path.join(EXAMPLES, "photo-7.jpg"),
                                       "paint-2.png": os.path.join(EXAMPLES, "paint-2.png")}


@pytest.mark.parametrize("name", ["seven.png", "digit.jpg", "mnist.png", "photo-7.jpg",
                                  "paint-2.png"])
@pytest.mark.parametrize("model", ["default", "wide"])
def test_classify_equals_the_cli_exactly(server, images, name, model):
    path = images[name]
    with open(path, "rb") as f:
        body = f.read()
    status, headers, doc = request(server, "POST", f"/api/classify?model={model}", body)
    assert status == 200, doc
    cli = classify_json(path, "--weights", model)
    assert doc["file"] == "-"
    doc.pop("file"), cli.pop("file")
    assert doc == cli                      # every field, every number, to the bit
    # With details: the same classify fields, plus what the page draws.
    status, _, full = request(server, "POST", f"/api/classify?model={model}&details=1", body)
    assert status == 200 and {k: full[k] for k in cli} == cli
    assert len(full["sums"]) == 3 and len(full["edges"]) == 3
    assert [e["digit"] for e in full["explain"]] == [cli["digit"], cli["runner_up"]]


def test_details_neuron_equals_inspect_layer(server, images):
    path = images["paint-2.png"]
    with open(path, "rb") as f:
        body = f.read()
    _, _, doc = request(server, "POST", "/api/classify?details=1&neuron=2:5", body)
    r = run("inspect-layer", 2, "--neuron", 5, "--image", path, "--json")
    want = json.loads(r.stdout)
    n = doc["neuron"]
    assert n["weights"] == want["weights"][0] and n["bias"] == want["biases"][0]
    img = want["image"]
    assert n["contributions"] == img["contributions"][0]
    assert n["weighted_sum"] == img["weighted_sums"][0]
    assert n["z"] == img["z"][0] and n["activation"] == img["activations"][0]
    # the strongest contributions really are the largest |activation x weight|
    layer3 = np.array(doc["layers"][2])[None] * np.array(json.loads(
        run("inspect-layer", 3, "--json").stdout)["weights"], np.float32)
    top = sorted(np.abs(layer3).ravel(), reverse=True)[:len(doc["edges"][2])]
    assert np.allclose(sorted((abs(e[2]) for e in doc["edges"][2]), reverse=True), top)


def test_neuron_endpoint_is_what_inspect_layer_top_says(server, mnist_test):
    status, _, doc = request(server, "GET", "/api/neuron?layer=2&neuron=3&top=5")
    assert status == 200
    want = json.loads(run("inspect-layer", 2, "--neuron", 3, "--top", 5, "--json").stdout)
    w = want["neurons"][0]
    assert [t["test_index"] for t in doc["top"]] == w["test_indices"]
    assert [t["activation"] for t in doc["top"]] == w["activations"]
    assert doc["preferred"] == w["preferred"]
    assert doc["preferred_method"] == want["preferred_input"]
    x, y = mnist_test
    first = np.frombuffer(__import__("base64").b64decode(doc["top"][0]["image"]), np.uint8)
    assert np.array_equal(first, np.rint(x[w["test_indices"][0]] * 255).astype(np.uint8))


@pytest.mark.parametrize("body, status, words", [
    (b"", 400, "empty body"),
    (b"hello, this is text", 422, "not an image"),
    (None, 422, ""),                                   # a truncated PNG, filled in below
    (None, 422, "no digit found"),                     # a blank white canvas
])
def test_bad_bodies_get_a_4xx_json_error_and_the_server_goes_on(server, body, status, words):
    if body is None and words:
        body = encode(Image.new("RGBA", (280, 280), (255, 255, 255, 255)), "PNG")
    elif body is None:
        body = encode(draw_seven((280, 280)), "PNG")[:300]
    got, headers, doc = request(server, "POST", "/api/classify", body)
    assert got == status and set(doc) == {"error"} and words in doc["error"]
    assert "\n" not in doc["error"]
    assert request(server, "GET", "/api/models")[0] == 200


def test_refusals(server):
    png = encode(draw_seven((280, 280)), "PNG")
    # DNS rebinding: a page on evil.example resolves to 127.0.0.1 but sends its own Host
    for host in ["evil.example", f"evil.example:{server}", "127.0.0.1", "localhost:1"]:
        status, _, doc = request(server, "GET", "/api/models", host=host)
        assert status == 421 and "127.0.0.1" in doc["error"]
    assert request(server, "GET", "/", host=f"localhost:{server}")[0] == 200
    # a cross-origin POST (a form on another site) is refused; the page's own is not
    status, _, doc = request(server, "POST", "/api/classify", png,
                             {"Origin": "http://evil.example"})
    assert status == 403
    status, _, _ = request(server, "POST", "/api/classify", png,
                           {"Origin": f"http://127.0.0.1:{server}"})
    assert status == 200
    # no CORS, ever: a preflight is refused and no answer carries Access-Control headers
    status, headers, _ = request(server, "OPTIONS", "/api/classify",
                                 headers={"Origin": "http://evil.example",
                                          "Access-Control-Request-Method": "POST"})
    assert status == 405
    for method, path, body in [("GET", "/", None), ("GET", "/api/models", None),
                               ("POST", "/api/classify", png)]:
        _, headers, _ = request(server, method, path, body)
        assert not any(k.lower().startswith("access-control") for k in headers)
    # unknown pages, wrong methods, bad parameters
    assert request(server, "GET", "/etc/passwd")[0] == 404
    assert request(server, "GET", "/../../etc/passwd")[0] == 404
    assert request(server, "GET", "/api/classify")[0] == 405
    assert request(server, "POST", "/api/classify?model=nope", png)[0] == 404
    assert request(server, "POST", "/api/classify?model=/etc/passwd", png)[0] == 404
    assert request(server, "POST", "/api/classify?noise=nan", png)[0] == 400
    assert request(server, "POST", "/api/classify?zero_layer=9", png)[0] == 400
    assert request(server, "POST", "/api/classify?details=1&neuron=2:99", png)[0] == 400
    assert request(server, "GET", "/api/neuron?layer=x&neuron=1")[0] == 400
    assert request(server, "GET", "/api/neuron?layer=1&neuron=1&top=1000")[0] == 400
    assert request(server, "GET", "/api/neuron?layer=1&neuron=1&top=0")[0] == 400
    assert request(server, "GET", "/api/models?" + "&".join(f"a{i}=1" for i in range(50)))[0] == 400
    assert request(server, "POST", "/api/classify?model=default&model=wide", png)[0] == 400
    assert request(server, "GET", "/api/models")[0] == 200


def recv_all(s):
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data.decode()


def test_body_limit_and_framing(server):
    # A huge Content-Length is refused before a byte of the body is read.
    s = socket.create_connection(("127.0.0.1", server), timeout=10)
    s.sendall(f"POST /api/classify HTTP/1.1\r\nHost: 127.0.0.1:{server}\r\n"
              f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode())
    reply = recv_all(s)
    s.close()
    assert reply.startswith("HTTP/1.1 413") and "limit" in reply
    # No Content-Length (chunked): refused, not read forever.
    s = socket.create_connection(("127.0.0.1", server), timeout=10)
    s.sendall(f"POST /api/classify HTTP/1.1\r\nHost: 127.0.0.1:{server}\r\n"
              "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".encode())
    assert recv_all(s).startswith("HTTP/1.1 411")
    s.close()
    # A body that ends early: an error, and the next request is served.
    s = socket.create_connection(("127.0.0.1", server), timeout=10)
    s.sendall(f"POST /api/classify HTTP/1.1\r\nHost: 127.0.0.1:{server}\r\n"
              "Content-Length: 1000\r\n\r\nshort".encode())
    s.shutdown(socket.SHUT_WR)
    assert recv_all(s).startswith("HTTP/1.1 400")
    s.close()
    # Garbage instead of HTTP
    s = socket.create_connection(("127.0.0.1", server), timeout=10)
    s.sendall(b"\x00\xff garbage\r\n\r\n")
    s.recv(4096)
    s.close()
    assert request(server, "GET", "/api/models")[0] == 200


def test_break_it_switches(server, images):
    with open(images["paint-2.png"], "rb") as f:
        body = f.read()
    _, _, plain = request(server, "POST", "/api/classify", body)
    _, _, dead = request(server, "POST", "/api/classify?zero_layer=3", body)
    from digitnet import load
    net = load("default").network
    # the output layer's weights at 0: every output is sigmoid(its bias), whatever is drawn
    assert np.allclose(dead["outputs"], 1 / (1 + np.exp(-net.biases[2].astype(np.float64))))
    _, _, nob = request(server, "POST", "/api/classify?zero_biases=1", body)
    assert nob["outputs"] != plain["outputs"]
    _, _, n1 = request(server, "POST", "/api/classify?noise=1", body)
    _, _, n2 = request(server, "POST", "/api/classify?noise=1", body)
    assert n1 == n2 and n1["outputs"] != plain["outputs"]      # the same noise every time
    _, _, again = request(server, "POST", "/api/classify", body)
    assert again == plain                                      # the real model is untouched


def test_page_assets_are_local(server):
    status, headers, html = request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    for path in ["/draw.js", "/draw.css"]:
        status, _, data = request(server, "GET", path)
        assert status == 200 and len(data) > 1000
        # nothing fetched from the internet: no absolute URLs in the page's own files
        assert b"http://" not in data and b"https://" not in data
    assert b"http://" not in html and b"https://" not in html


def test_draw_command_serves_and_stops_cleanly_on_ctrl_c():
    p = subprocess.Popen([DIGITNET, "draw", "--no-browser", "--port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        url = p.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        port = int(url.rsplit(":", 1)[1].strip("/"))
        status, _, doc = request(port, "GET", "/api/models")
        assert status == 200 and [m["name"] for m in doc["models"]] == ["default", "wide"]
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130
    assert err.splitlines()[-1] == "digitnet: stopped the draw server"
    assert "Traceback" not in err
    with pytest.raises(OSError):                  # the port is closed
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_draw_command_errors_are_one_line(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        r = subprocess.run([DIGITNET, "draw", "--no-browser", "--port", str(port)],
                           capture_output=True, text=True, timeout=30, env=_env())
    finally:
        busy.close()
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"digitnet: cannot listen on 127.0.0.1:{port}")
    r = subprocess.run([DIGITNET, "draw", "--no-browser", "--weights", str(tmp_path / "x.npz")],
                       capture_output=True, text=True, timeout=30, env=_env())
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "x.npz" in r.stderr


def test_top_digits_are_the_most_exciting(mnist_test):
    from digitnet import load
    x, y = mnist_test
    net = load("default").network
    td = inspection.top_digits(net, 1, 6, x, y)
    acts = net.forward(x)[0][1]
    for i in range(16):
        assert np.allclose(td.activations[i], np.sort(acts[:, i])[::-1][:6])
        assert (td.labels[i] == y[td.indices[i]]).all()
    assert td.preferred.shape == (16, 784)
