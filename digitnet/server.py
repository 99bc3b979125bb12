"""``digitnet draw``'s local web server: the draw page and the HTTP API it stands on.

Everything the page shows comes from the library -- :class:`digitnet.Model`,
:mod:`digitnet.inspection` and :mod:`digitnet.explain` -- never from the command line's
printing code, so the page and ``digitnet classify --json`` give the same numbers to the
bit (the same decoding, normalisation and batch-of-one forward pass).

The API (all answers are JSON; errors are ``{"error": "one line"}`` with a 4xx status,
or 500 for a fault of the server itself):

``POST /api/classify?model=NAME`` with an image file's bytes as the body (PNG or JPEG,
as a canvas sends them; any format ``classify`` reads)
    -> exactly the fields of one ``digitnet classify --json`` line (``file`` is ``"-"``,
    as for an image read from stdin). Add ``details=1`` for what the page draws besides:
    ``sums`` (every layer's z), ``edges`` (each layer's strongest contributions
    activation x weight, as ``[from, to, value]``), ``explain`` (gradient x input maps
    for the answer and runner-up) and, with ``neuron=L:K``, neuron K of layer L's
    weights, bias, weighted sum, z, activation and contributions -- the numbers of
    ``digitnet inspect-layer L --neuron K --image IMG``. "Break it" switches (these
    change the network, so the numbers are no longer ``classify``'s):
    ``zero_biases=1``, ``zero_layer=L`` (layer L's weights all 0), ``noise=S`` (Gaussian
    noise of S times each layer's weight spread added to the weights; fixed seed).
``GET /api/models`` -> the models the page can switch between, with their sizes.
``GET /api/neuron?model=NAME&layer=L&neuron=K&top=N`` -> what the neuron detects: its
    top N MNIST test digits and its preferred input (:func:`inspection.top_digits`).

Safety: the server listens on 127.0.0.1 only; requests whose ``Host`` is not
``127.0.0.1:PORT`` or ``localhost:PORT`` are refused (421), which defeats DNS rebinding;
cross-origin ``POST`` requests (an ``Origin`` that is not the page's) are refused (403);
no CORS headers are ever sent, so other sites cannot read answers; bodies above
:data:`MAX_BODY` are refused (413) before they are read, and a slow client times out.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import numpy as np

from .errors import DigitnetError, ImageError

__all__ = ["DrawApp", "make_server", "MAX_BODY", "SHIPPED_MODELS"]

#: Largest request body accepted (16 MiB): a dropped phone photo fits, a flood does not.
MAX_BODY = 16 * 1024 * 1024
#: Models the page offers (any other weight file given to ``draw`` is added first).
SHIPPED_MODELS = ("default", "wide")
#: Strongest connections per layer sent for the network picture.
EDGES_PER_LAYER = 40
#: Socket timeout for a client that opens a connection and sends nothing.
CLIENT_TIMEOUT = 15

_ASSETS = {"/": ("index.html", "text/html; charset=utf-8"),
           "/index.html": ("index.html", "text/html; charset=utf-8"),
           "/draw.js": ("draw.js", "text/javascript; charset=utf-8"),
           "/draw.css": ("draw.css", "text/css; charset=utf-8")}


class ApiError(Exception):
    """A request the API refuses: HTTP status and a one-line message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def broken(network, zero_biases=False, zero_layer=None, noise=0.0):
    """A copy of ``network`` with the draw page's "break it" switches applied.

    ``zero_biases``: every bias 0. ``zero_layer``: that layer's weights (1..L) all 0.
    ``noise``: Gaussian noise with ``noise`` times each layer's weight standard deviation
    added to its weights, from a fixed seed (the same noise for every drawing).
    """
    from .network import Network
    rng = np.random.default_rng(0)
    ws, bs = [], []
    for l, (w, b) in enumerate(zip(network.weights, network.biases), start=1):
        w = w.copy()
        if noise:
            w += (noise * float(w.std()) * rng.standard_normal(w.shape)).astype(w.dtype)
        if zero_layer == l:
            w[:] = 0
        ws.append(w)
        bs.append(np.zeros_like(b) if zero_biases else b.copy())
    return Network(ws, bs)


class DrawApp:
    """The API's logic, without any HTTP: the server's handler calls :meth:`handle`.

    ``weights``: the model the page starts with (a shipped name or a path), loaded at
    once so that bad weights fail at start; the shipped models are offered too, loaded
    when a request (or the list of models) first names them. The test set and each
    layer's top digits are computed on first use and kept.
    """

    def __init__(self, weights="default"):
        from . import load
        self.first = str(weights)
        self.names = [self.first] + [m for m in SHIPPED_MODELS if m != self.first]
        self._models = {self.first: load(weights)}   # fail now if the weights are bad
        self._broken = {}
        self._tops = {}
        self._test = None
        self._lock = threading.Lock()

    # -- models ---------------------------------------------------------------------
    def _name(self, name):
        """The model a request names (None: the first one), checked."""
        name = self.first if name is None else name
        if name not in self.names:
            raise ApiError(404, f"no model {name!r} (models: {', '.join(self.names)})")
        return name

    def model(self, name):
        name = self._name(name)
        with self._lock:
            if name not in self._models:
                from . import load
                self._models[name] = load(name)
            return self._models[name]

    def network(self, name, zero_biases, zero_layer, noise):
        """Model ``name``'s network (a name :meth:`_name` checked), broken as asked."""
        model = self.model(name)
        if not (zero_biases or zero_layer or noise):
            return model.network
        key = (name, zero_biases, zero_layer, noise)
        with self._lock:
            if key not in self._broken:
                if len(self._broken) > 32:
                    self._broken.clear()
                self._broken[key] = broken(model.network, zero_biases, zero_layer, noise)
            return self._broken[key]

    def test_set(self):
        with self._lock:
            if self._test is None:
                from . import mnist
                self._test = mnist.load_split(mnist.bundled_dir(), "test")
            return self._test

    # -- requests -------------------------------------------------------------------
    def models(self):
        out = []
        for name in self.names:
            try:
                sizes = self.model(name).sizes
            except DigitnetError:         # a shipped file missing or damaged: not offered
                continue
            out.append({"name": name, "sizes": sizes})
        return {"models": out}

    def classify(self, body, query):
        """``POST /api/classify``: see the module docstring."""
        from .model import Model
        name = self._name(_one(query, "model"))
        details = _flag(query, "details")
        zero_biases = _flag(query, "zero_biases")
        zero_layer = _int(query, "zero_layer")
        noise = _float(query, "noise", 0.0, 0.0, 10.0)
        model = self.model(name)
        n_layers = len(model.network.weights)
        if zero_layer is not None and not 1 <= zero_layer <= n_layers:
            raise ApiError(400, f"zero_layer: this model has layers 1..{n_layers}")
        net = self.network(name, zero_biases, zero_layer, noise)
        if not body:
            raise ApiError(400, "empty body: send the bytes of an image file")
        try:
            x = model.inputs(body)
        except ImageError as e:
            raise ApiError(422, str(e)) from None
        result = Model(net).results(x[None], sums=details)[0]
        doc = {"file": "-", **result.to_dict()}
        if details:
            doc.update(self._details(net, result, x, query))
        return doc

    def _details(self, net, result, x, query):
        from . import explain, inspection
        edges = []
        for l, w in enumerate(net.weights):
            c = w * result.layers[l]                        # (n_out, n_in) contributions
            k = min(EDGES_PER_LAYER, c.size)
            flat = np.argpartition(-np.abs(c).ravel(), k - 1)[:k]
            to, frm = np.unravel_index(flat, c.shape)
            order = np.argsort(-np.abs(c[to, frm]))
            edges.append([[int(frm[i]), int(to[i]), float(c[to[i], frm[i]])] for i in order])
        ex = explain.explain(net, x, result)
        out = {"sums": [z.tolist() for z in result.sums], "edges": edges,
               "explain": ex.explained()}
        spec = _one(query, "neuron")
        if spec:
            layer, k = _neuron_spec(spec, net)
            view = inspection.layer_view(net, layer, [k], x, result)
            out["neuron"] = {"layer": layer, "neuron": k, "weights": view.weights[0].tolist(),
                             "bias": float(view.biases[0]),
                             "weighted_sum": float(view.sums[0]), "z": float(view.z[0]),
                             "activation": float(view.activations[0]),
                             "contributions": view.contributions[0].tolist()}
        return out

    def neuron(self, query):
        """``GET /api/neuron``: a neuron's weights, bias and what it detects."""
        from . import inspection
        name = self._name(_one(query, "model"))
        net = self.model(name).network
        layer, k = _neuron_spec(f"{_one(query, 'layer')}:{_one(query, 'neuron')}", net)
        top = _int(query, "top")
        top = 8 if top is None else top
        if not 1 <= top <= inspection.MAX_TOP:
            raise ApiError(400, f"top: a number from 1 to {inspection.MAX_TOP}")
        key = (name, layer, top)
        td = self._tops.get(key)
        if td is None:
            # Computed outside the lock (a second on the wide model's first layer), which
            # every classify request takes: drawing must not stall meanwhile.
            x, y = self.test_set()
            td = inspection.top_digits(net, layer, top, x, y)
            with self._lock:
                td = self._tops.setdefault(key, td)
        i = td.neurons.index(k)
        return {"layer": layer, "neuron": k, "bias": float(net.biases[layer - 1][k]),
                "weights": net.weights[layer - 1][k].tolist(),
                "top": [{"test_index": int(td.indices[i, j]), "label": int(td.labels[i, j]),
                         "activation": float(td.activations[i, j]),
                         # the test digits are k/255 exactly: sent as bytes, base64
                         "image": base64.b64encode(
                             np.rint(td.images[i, j] * 255).astype(np.uint8).tobytes()
                         ).decode("ascii")} for j in range(td.indices.shape[1])],
                "preferred": td.preferred[i].tolist(),
                "preferred_method": inspection.PREFERRED_METHOD}

    def handle(self, method, path, query, body):
        """One request -> ``(status, content_type, bytes)``."""
        if method == "GET" and path in _ASSETS:
            name, ctype = _ASSETS[path]
            return 200, ctype, _asset(name)
        routes = {("GET", "/api/models"): lambda: self.models(),
                  ("GET", "/api/neuron"): lambda: self.neuron(query),
                  ("POST", "/api/classify"): lambda: self.classify(body, query)}
        if (method, path) not in routes:
            if any(p == path for _, p in routes) or path in _ASSETS:
                raise ApiError(405, f"{method} is not allowed on {path}")
            raise ApiError(404, f"no such page: {path}")
        try:
            doc = routes[(method, path)]()
        except (IndexError, ValueError) as e:
            raise ApiError(400, str(e)) from None
        except DigitnetError as e:
            raise ApiError(422, str(e)) from None
        return 200, "application/json", json.dumps(doc).encode()


@functools.cache
def _asset(name):
    """A file of the page (read once: the package does not change while serving)."""
    return resources.files("digitnet").joinpath("page", name).read_bytes()


def _one(query, key):
    values = query.get(key)
    if values and len(values) > 1:
        raise ApiError(400, f"{key}: give it once")
    return values[0] if values else None


def _flag(query, key):
    v = _one(query, key)
    if v in (None, "", "0", "false"):
        return False
    if v in ("1", "true"):
        return True
    raise ApiError(400, f"{key}: 1 or 0")


def _int(query, key):
    v = _one(query, key)
    if v in (None, ""):
        return None
    try:
        return int(v)
    except ValueError:
        raise ApiError(400, f"{key}: not a whole number: {v[:20]!r}") from None


def _float(query, key, default, lo, hi):
    v = _one(query, key)
    if v in (None, ""):
        return default
    try:
        f = float(v)
    except ValueError:
        f = float("nan")
    if not lo <= f <= hi:
        raise ApiError(400, f"{key}: a number from {lo:g} to {hi:g}")
    return f


def _neuron_spec(spec, net):
    """``"L:K"`` -> (layer, neuron), checked against ``net``."""
    from .inspection import checked_neurons
    try:
        layer, k = (int(p) for p in spec.split(":"))
    except ValueError:
        raise ApiError(400, f"neuron: give LAYER:NEURON, e.g. 2:5 (got {spec[:20]!r})") from None
    try:
        checked_neurons(net, layer, [k])
    except IndexError as e:
        raise ApiError(400, f"neuron: {e}") from None
    return layer, k


class _Handler(BaseHTTPRequestHandler):
    server_version = "digitnet-draw"
    protocol_version = "HTTP/1.1"
    timeout = CLIENT_TIMEOUT
    # Headers and body leave in one write, with Nagle's algorithm off: otherwise a small
    # answer waits ~40 ms for the client's delayed ACK of the headers on a kept-alive
    # connection, twice the whole update's budget.
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, format, *args):   # quiet: the terminal shows only the URL
        pass

    def _send(self, status, ctype, data):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data: blob:; "
                         "frame-ancestors 'none'")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status, message):
        self._send(status, "application/json", json.dumps({"error": message}).encode())

    def _handle(self):
        try:
            port = self.server.server_address[1]
            allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}
            if self.headers.get("Host", "").lower() not in allowed:
                # Also closes the connection: a rebinding page must not reuse it.
                self.close_connection = True
                raise ApiError(421, "this server answers only to http://127.0.0.1:%d" % port)
            origin = self.headers.get("Origin")
            if origin is not None and self.command != "GET" and \
                    origin.lower() not in {f"http://{h}" for h in allowed}:
                raise ApiError(403, "cross-origin requests are refused")
            url = urlsplit(self.path)
            body = b""
            if self.command == "POST":
                length = self.headers.get("Content-Length")
                if self.headers.get("Transfer-Encoding") or length is None:
                    self.close_connection = True
                    raise ApiError(411, "send the body with a Content-Length")
                try:
                    n = int(length)
                    if n < 0:
                        raise ValueError
                except ValueError:
                    self.close_connection = True
                    raise ApiError(400, "bad Content-Length") from None
                if n > MAX_BODY:
                    self.close_connection = True      # the body is never read
                    raise ApiError(413, f"the body is {n:,} bytes; the limit is {MAX_BODY:,}")
                body = self.rfile.read(n)
                if len(body) < n:
                    self.close_connection = True
                    raise ApiError(400, "the body ended early")
            try:
                query = parse_qs(url.query, keep_blank_values=True, max_num_fields=20)
            except ValueError:
                raise ApiError(400, "too many query parameters") from None
            method = "GET" if self.command == "HEAD" else self.command
            status, ctype, data = self.server.app.handle(method, url.path, query, body)
            self._send(status, ctype, data)
        except ApiError as e:
            self._error(e.status, str(e))
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as e:                   # never a traceback, never a dead server
            self._error(500, f"internal error: {type(e).__name__}")

    do_GET = do_POST = do_HEAD = _handle

    def do_PUT(self):
        self._error(405, f"{self.command} is not allowed")

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT


class _Server(ThreadingHTTPServer):
    daemon_threads = True        # Ctrl-C never waits for an idle keep-alive connection
    allow_reuse_address = True

    def handle_error(self, request, client_address):   # a broken client: no traceback
        pass


def make_server(app, port=0, host="127.0.0.1"):
    """An HTTP server for ``app`` (a :class:`DrawApp`) bound to ``host:port`` (0: any free
    port; see ``server.server_address``). Call ``serve_forever()`` and ``server_close()``."""
    server = _Server((host, port), _Handler)
    server.app = app
    return server
