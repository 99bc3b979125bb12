// digitnet draw: draw a digit, send it to the local digitnet server, show what the network
// computes. Every number on this page comes from the server's API (POST /api/classify and
// GET /api/neuron), which runs the same code as `digitnet classify --json`.
"use strict";

const $ = (id) => document.getElementById(id);
const pad = $("pad"), padCtx = pad.getContext("2d");
const net = $("net"), netCtx = net.getContext("2d");
const PEN = 18;            // pen width in pad pixels (the pad is 280 px: 10x the 28x28 input)
const INTERVAL = 50;       // ms between updates while drawing
// The pad is sent at half size: the network sees 28x28 anyway, and the normalisation's
// cost grows with the pixels (a 140 px picture takes ~60% of a 280 px one's time).
const SEND = 140;

const state = {
  strokes: [],             // each a list of [x, y] points, in pad pixels
  background: null,        // a dropped image (ImageBitmap), drawn under the strokes
  droppedBytes: null,      // ... and its file's bytes, sent as they are while no stroke is added
  model: null, models: [], palette: "green-red",
  selected: null,          // {layer, neuron}: layer 0 = input, 1.. = the layers of weights
  hover: null,
  last: null,              // the last answer of /api/classify
  inFlight: false, dirty: false, lastSent: 0, timer: null,
  positions: [],           // per layer, per neuron: [x, y, r] on the network canvas
  detects: new Map(),      // "model|layer|neuron" -> /api/neuron answer
};
window.digitnet = state;   // for tests and the curious: the page's state

// --- colours ---------------------------------------------------------------------------
const PALETTES = {"green-red": [[0, 255, 0], [255, 0, 0]],
                  "blue-orange": [[86, 180, 233], [230, 159, 0]]};
function signed(v, scale) {            // like digitnet.render.signed_rgb: sqrt brightness
  const b = Math.sqrt(Math.min(1, Math.abs(v) / (scale || 1)));
  const [pos, neg] = PALETTES[state.palette];
  const c = v >= 0 ? pos : neg;
  return [c[0] * b, c[1] * b, c[2] * b];
}
function robustScale(values) {         // digitnet.render.robust_scale(values, 95)
  const a = Array.from(values, Math.abs).filter(Number.isFinite).sort((p, q) => p - q);
  if (!a.length) return 1;
  const at = 0.95 * (a.length - 1), lo = Math.floor(at), hi = Math.min(a.length - 1, lo + 1);
  const s = a[lo] + (a[hi] - a[lo]) * (at - lo);   // np.percentile's linear interpolation
  return s > 0 && Number.isFinite(s) ? s : 1;
}
function gridShape(n) {                // digitnet.render.grid_shape
  const s = Math.floor(Math.sqrt(n));
  if (s * s === n) return [s, s];
  let rows = 1;
  for (let d = 1; d <= s; d++) if (n % d === 0) rows = d;
  const cols = n / rows;
  if (cols <= 2.5 * rows) return [rows, cols];
  return [Math.ceil(n / (s + 1)), s + 1];
}
function drawGrid(canvas, values, scale, under) {
  // values drawn as a grid of coloured cells; `under` (0..1 per cell): grey drawn where
  // the value is ~0 (the digit under an explanation map)
  const [rows, cols] = gridShape(values.length);
  const ctx = canvas.getContext("2d");
  const tmp = pixels(cols, rows, (i) => {
    const rgb = i < values.length ? signed(values[i], scale) : [40, 40, 40];
    if (!under || i >= values.length) return rgb;
    const g = 90 * under[i];
    return [Math.max(rgb[0], g), Math.max(rgb[1], g), Math.max(rgb[2], g)];
  });
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const k = Math.min(canvas.width / cols, canvas.height / rows);
  ctx.drawImage(tmp, 0, 0, cols * k, rows * k);
}
function pixels(cols, rows, rgbOf) {
  // an off-screen canvas of cols x rows pixels, pixel i coloured rgbOf(i) ([r, g, b])
  const tmp = document.createElement("canvas");
  tmp.width = cols; tmp.height = rows;
  const c = tmp.getContext("2d"), img = c.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) img.data.set([...rgbOf(i), 255], 4 * i);
  c.putImageData(img, 0, 0);
  return tmp;
}
function gray28(values) {                        // light ink on black, like MNIST
  return pixels(28, 28, (i) => { const g = 255 * values[i]; return [g, g, g]; });
}
function drawGray(canvas, values) {
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(gray28(values), 0, 0, canvas.width, canvas.height);
}

// --- the drawing pad -------------------------------------------------------------------
function redrawPad() {
  padCtx.fillStyle = "#fff";
  padCtx.fillRect(0, 0, pad.width, pad.height);
  if (state.background) {
    const b = state.background, k = Math.min(pad.width / b.width, pad.height / b.height);
    padCtx.drawImage(b, (pad.width - b.width * k) / 2, (pad.height - b.height * k) / 2,
                     b.width * k, b.height * k);
  }
  padCtx.strokeStyle = padCtx.fillStyle = "#000";
  padCtx.lineWidth = PEN;
  padCtx.lineCap = padCtx.lineJoin = "round";
  for (const s of state.strokes) {
    if (s.length === 1) {               // a dot
      padCtx.beginPath();
      padCtx.arc(s[0][0], s[0][1], PEN / 2, 0, 2 * Math.PI);
      padCtx.fill();
      continue;
    }
    padCtx.beginPath();
    padCtx.moveTo(s[0][0], s[0][1]);
    for (const [x, y] of s.slice(1)) padCtx.lineTo(x, y);
    padCtx.stroke();
  }
}
function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener("pointerdown", (e) => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  state.droppedBytes = null;           // the picture is now the canvas, not the file
  state.strokes.push([padPoint(e)]);
  redrawPad(); schedule();
});
pad.addEventListener("pointermove", (e) => {
  if (!pad.hasPointerCapture(e.pointerId)) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  const s = state.strokes[state.strokes.length - 1];
  for (const ev of (events.length ? events : [e])) s.push(padPoint(ev));
  redrawPad(); schedule();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, (e) => {
    if (pad.hasPointerCapture(e.pointerId)) pad.releasePointerCapture(e.pointerId);
    schedule(true);
  });
}
$("undo").onclick = () => {
  if (state.strokes.length) state.strokes.pop();
  else { state.background = null; state.droppedBytes = null; }
  redrawPad(); schedule(true);
};
$("clear").onclick = () => {
  state.strokes = []; state.background = null; state.droppedBytes = null;
  redrawPad(); showNothing("draw a digit");
};
async function openFile(file) {
  if (!file) return;
  const bytes = await file.arrayBuffer();
  state.strokes = [];
  state.droppedBytes = new Blob([bytes]);
  try { state.background = await createImageBitmap(new Blob([bytes])); }
  catch (err) { state.background = null; }   // the server says what is wrong with it
  redrawPad(); schedule(true);
}
pad.addEventListener("dragover", (e) => { e.preventDefault(); pad.classList.add("over"); });
pad.addEventListener("dragleave", () => pad.classList.remove("over"));
pad.addEventListener("drop", (e) => {
  e.preventDefault(); pad.classList.remove("over");
  openFile(e.dataTransfer.files[0]);
});
$("file").addEventListener("change", (e) => openFile(e.target.files[0]));

// --- talking to the server -------------------------------------------------------------
function blank() { return !state.strokes.length && !state.background; }
// At most one request in flight, and at most one every INTERVAL ms: while one is on its
// way, new strokes only mark the drawing dirty, and the latest drawing is sent when it
// returns -- never a queue of stale requests.
function schedule(now) {
  if (blank()) { showNothing("draw a digit"); return; }
  state.dirty = true;
  if (state.inFlight || state.timer) return;
  const wait = now ? 0 : Math.max(0, INTERVAL - (performance.now() - state.lastSent));
  state.timer = setTimeout(() => { state.timer = null; send(); }, wait);
}
function query() {
  const q = new URLSearchParams({model: state.model, details: "1"});
  const sel = state.hover || state.selected;
  if (sel) q.set("neuron", `${sel.layer}:${sel.neuron}`);
  if ($("zero-biases").checked) q.set("zero_biases", "1");
  if ($("zero-layer").value) q.set("zero_layer", $("zero-layer").value);
  if (+$("noise").value) q.set("noise", $("noise").value);
  return q;
}
async function send() {
  if (!state.dirty || state.inFlight || blank()) return;
  state.dirty = false; state.inFlight = true; state.lastSent = performance.now();
  setStatus("busy", "thinking\u2026");
  try {
    const body = state.droppedBytes ||
      await new Promise((ok) => sentCanvas().toBlob(ok, "image/png"));
    const r = await fetch("/api/classify?" + query(), {method: "POST", body});
    const doc = await r.json();
    if (!r.ok) { showNothing(doc.error || `error ${r.status}`, true); }
    else if (!state.dirty) { show(doc); }
  } catch (err) {
    showNothing("the digitnet server is not answering (was it stopped?)", true);
  } finally {
    state.inFlight = false;
    if (state.dirty) schedule();
  }
}
function sentCanvas() {     // what the server gets: the pad at SEND x SEND pixels
  const c = document.createElement("canvas");
  c.width = c.height = SEND;
  const ctx = c.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(pad, 0, 0, SEND, SEND);
  return c;
}
state.sentPNG = () => sentCanvas().toDataURL("image/png");   // for tests
function setStatus(s, text) { $("status").dataset.state = s; $("status").textContent = text; }

// --- showing an answer -----------------------------------------------------------------
function showNothing(message, isError) {
  state.last = null;
  const a = $("answer");
  a.dataset.digit = ""; a.textContent = message;
  setStatus(isError ? "error" : "idle", isError ? "no answer" : "ready");
  drawNetwork(null);
  for (const id of ["explain0", "explain1"]) {
    const c = $(id); c.getContext("2d").clearRect(0, 0, c.width, c.height);
    $(id + "-cap").textContent = "";
  }
  showNeuron();
}
function show(doc) {
  state.last = doc;
  const a = $("answer");
  a.dataset.digit = String(doc.digit);
  a.innerHTML = `answer: <b>${doc.digit}</b> (output ${doc.activation.toFixed(3)}, ` +
    `${doc.margin.toFixed(3)} ahead of ${doc.runner_up})` +
    (doc.confident ? "" : ' <span class="unsure">unsure: margin below 0.3</span>');
  setStatus("ready", "ready");
  drawNetwork(doc);
  doc.explain.forEach((ex, i) => {
    const scale = robustScale(ex.map);
    drawGrid($("explain" + i), ex.map, scale, doc.layers[0]);
    $("explain" + i + "-cap").textContent =
      `${i ? "runner-up" : "answer"} ${ex.digit}: z = ${ex.z.toFixed(2)} ` +
      `(+${ex.pushed_up.toFixed(2)} / ${ex.pushed_down.toFixed(2)})`;
  });
  showNeuron();
}

// --- the network picture ---------------------------------------------------------------
function layout(sizes) {
  // input image at the left, then one column per layer; big layers become grids of squares
  const W = net.width, H = net.height, inputPx = 4, top = 20;
  const positions = [];
  const ix = 10, iy = (H - 28 * inputPx) / 2;
  positions.push(Array.from({length: 784}, (_, i) =>
    [ix + (i % 28 + 0.5) * inputPx, iy + (Math.floor(i / 28) + 0.5) * inputPx, inputPx / 2]));
  const cols = sizes.length - 1, x0 = 10 + 28 * inputPx + 60, x1 = W - 95;
  for (let l = 1; l < sizes.length; l++) {
    const n = sizes[l], x = cols === 1 ? x1 : x0 + (x1 - x0) * (l - 1) / (cols - 1);
    const avail = H - 2 * top;
    if (n <= 24) {
      const step = Math.min(avail / n, 30), r = Math.min(11, step / 2 - 1);
      const y0 = (H - step * (n - 1)) / 2;
      positions.push(Array.from({length: n}, (_, i) => [x, y0 + i * step, r]));
    } else {               // a grid of small squares, a few columns wide
      const per = Math.ceil(Math.sqrt(n * 50 / avail)) , c = Math.ceil(n / Math.ceil(n / per));
      const rowsN = Math.ceil(n / c), step = Math.min(avail / rowsN, 50 / c);
      const y0 = (H - step * rowsN) / 2;
      positions.push(Array.from({length: n}, (_, i) =>
        [x - 25 + (i % c + 0.5) * step, y0 + (Math.floor(i / c) + 0.5) * step, step / 2]));
    }
  }
  return positions;
}
function drawNetwork(doc) {
  const sizes = currentSizes();
  if (!sizes) return;
  state.positions = layout(sizes);
  const P = state.positions;
  netCtx.clearRect(0, 0, net.width, net.height);
  // the input image as the network sees it
  const inp = doc ? doc.layers[0] : new Array(784).fill(0);
  netCtx.imageSmoothingEnabled = false;
  const [ix, iy] = [P[0][0][0] - 2, P[0][0][1] - 2];
  netCtx.drawImage(gray28(inp), ix, iy, 112, 112);
  netCtx.strokeStyle = "#555"; netCtx.strokeRect(ix - 0.5, iy - 0.5, 113, 113);
  netCtx.fillStyle = "#aaa"; netCtx.font = "12px system-ui";
  netCtx.fillText("input 28\u00d728", ix, iy - 6);
  // the strongest contributions
  if (doc) {
    doc.edges.forEach((edges, l) => {
      const top = Math.max(...edges.map((e) => Math.abs(e[2]))) || 1;
      for (const [from, to, c] of edges) {
        const [r, g, b] = signed(c, top);
        netCtx.strokeStyle = `rgba(${r | 0},${g | 0},${b | 0},${0.25 + 0.75 * Math.abs(c) / top})`;
        netCtx.lineWidth = 0.5 + 2.5 * Math.abs(c) / top;
        netCtx.beginPath();
        netCtx.moveTo(P[l][from][0], P[l][from][1]);
        netCtx.lineTo(P[l + 1][to][0], P[l + 1][to][1]);
        netCtx.stroke();
      }
    });
  }
  // the neurons, lit by activation
  const sel = state.hover || state.selected;
  for (let l = 1; l < sizes.length; l++) {
    const acts = doc ? doc.layers[l] : null;
    P[l].forEach(([x, y, r], i) => {
      const g = acts ? Math.round(255 * acts[i]) : 30;
      netCtx.fillStyle = `rgb(${g},${g},${g})`;
      netCtx.strokeStyle = sel && sel.layer === l && sel.neuron === i ? "#6cf" : "#666";
      netCtx.lineWidth = sel && sel.layer === l && sel.neuron === i ? 3 : 1;
      netCtx.beginPath();
      if (sizes[l] <= 24) netCtx.arc(x, y, r, 0, 2 * Math.PI);
      else netCtx.rect(x - r, y - r, 2 * r, 2 * r);
      netCtx.fill(); netCtx.stroke();
    });
    netCtx.fillStyle = "#aaa";
    const label = l === sizes.length - 1 ? "outputs" : `layer ${l} (${sizes[l]})`;
    netCtx.fillText(label, P[l][0][0] - 25, 14);
  }
  // the outputs' digits and values
  const L = sizes.length - 1;
  P[L].forEach(([x, y, r], d) => {
    const win = doc && doc.digit === d;
    netCtx.fillStyle = win ? "#7f7" : "#ccc";
    netCtx.font = win ? "bold 14px system-ui" : "13px system-ui";
    netCtx.fillText(`${d}` + (doc ? `  ${doc.outputs[d].toFixed(2)}` : ""), x + r + 6, y + 5);
  });
}
function currentSizes() {
  const m = state.models.find((m) => m.name === state.model);
  return m ? m.sizes : null;
}
function neuronAt(e) {
  const r = net.getBoundingClientRect();
  const x = (e.clientX - r.left) * net.width / r.width, y = (e.clientY - r.top) * net.height / r.height;
  for (let l = 1; l < state.positions.length; l++) {
    const i = state.positions[l].findIndex(([px, py, pr]) => Math.hypot(x - px, y - py) <= pr + 2);
    if (i >= 0) return {layer: l, neuron: i};
  }
  return null;
}
net.addEventListener("mousemove", (e) => {
  const n = neuronAt(e);
  const same = (a, b) => a && b && a.layer === b.layer && a.neuron === b.neuron;
  if (!same(n, state.hover) && (n || state.hover)) {
    state.hover = n;
    net.style.cursor = n ? "pointer" : "default";
    if (state.last) schedule(true); else showNeuron();
  }
});
net.addEventListener("mouseleave", () => { if (state.hover) { state.hover = null; schedule(true); } });
net.addEventListener("click", (e) => {
  const n = neuronAt(e);
  if (!n) return;
  state.selected = n; state.hover = null;
  if (state.last) schedule(true); else showNeuron();
});

// --- one neuron ------------------------------------------------------------------------
async function detects(layer, neuron) {
  const key = `${state.model}|${layer}|${neuron}`;
  if (!state.detects.has(key)) {
    const q = new URLSearchParams({model: state.model, layer, neuron, top: 8});
    // An error answer is shown, but not kept: like a failed request, it is asked again
    // next time.
    const answer = fetch("/api/neuron?" + q).then((r) => r.json().then((d) => {
      if (!r.ok) state.detects.delete(key);
      return d;
    }));
    answer.catch(() => state.detects.delete(key));
    state.detects.set(key, answer);
  }
  return state.detects.get(key);
}
async function showNeuron() {
  const sel = state.hover || state.selected;
  const body = $("numbers").tBodies[0];
  if (!sel) return;
  const sizes = currentSizes();
  const isOut = sel.layer === sizes.length - 1;
  $("neuron-title").textContent = isOut ? `Output: digit ${sel.neuron}` :
    `Layer ${sel.layer}, neuron ${sel.neuron}`;
  const info = await detects(sel.layer, sel.neuron);
  if (info.error) { $("detects-how").textContent = info.error; return; }
  const now = state.last && state.last.neuron;
  const weights = now ? now.weights : info.weights;
  drawGrid($("weights"), weights, robustScale(weights));
  const rows = [["bias", (now || info).bias]];
  if (now) {
    drawGrid($("contrib"), now.contributions, robustScale(now.contributions));
    rows.push(["weighted sum \u03a3 a\u00b7w", now.weighted_sum], ["z = sum + bias", now.z],
              ["sigmoid(z)", now.activation]);
  } else {
    const c = $("contrib"); c.getContext("2d").clearRect(0, 0, c.width, c.height);
  }
  body.innerHTML = rows.map(([k, v]) => `<tr><td>${k}</td><td>${v.toFixed(4)}</td></tr>`).join("");
  $("detects-how").textContent = `its ${info.top.length} most exciting MNIST test digits ` +
    `(activation below each); preferred input: ${info.preferred_method}.`;
  const strip = $("top");
  strip.innerHTML = "";
  for (const t of info.top) {
    const f = document.createElement("figure"), c = document.createElement("canvas");
    c.width = c.height = 28;
    const px = Uint8Array.from(atob(t.image), (ch) => ch.charCodeAt(0));
    drawGray(c, Array.from(px, (v) => v / 255));
    f.append(c);
    const cap = document.createElement("figcaption");
    cap.textContent = `#${t.test_index} ${t.activation.toFixed(2)}`;
    f.append(cap); strip.append(f);
  }
  drawGrid($("preferred"), info.preferred, robustScale(info.preferred));
}

// --- controls --------------------------------------------------------------------------
$("model").addEventListener("change", (e) => {
  state.model = e.target.value; state.selected = state.hover = null;
  fillLayers(); drawNetwork(null); schedule(true);
});
$("palette").addEventListener("change", (e) => {
  state.palette = e.target.value;
  document.body.className = state.palette;
  if (state.last) show(state.last); else drawNetwork(null);
});
for (const id of ["zero-biases", "zero-layer", "noise"]) {
  for (const type of ["input", "change"]) {     // a select may fire only "change"
    $(id).addEventListener(type, () => {
      $("noise-value").textContent = $("noise").value;
      schedule(true);
    });
  }
}
function fillLayers() {
  const sel = $("zero-layer"), sizes = currentSizes();
  sel.innerHTML = '<option value="">none</option>';
  for (let l = 1; l < sizes.length; l++) sel.add(new Option(`${l} (${sizes[l - 1]}\u2192${sizes[l]})`, l));
}

async function start() {
  document.body.className = state.palette;
  redrawPad();
  const doc = await (await fetch("/api/models")).json();
  state.models = doc.models;
  state.model = doc.models[0].name;
  for (const m of doc.models) $("model").add(new Option(`${m.name} (${m.sizes.join("-")})`, m.name));
  fillLayers();
  drawNetwork(null);
  setStatus("idle", "draw a digit");
}
start();
