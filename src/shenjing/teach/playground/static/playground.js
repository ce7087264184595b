// The shenjing playground page: controls, URL hash, drawing. The network itself lives in the Python
// process (a shenjing nn.Module); this page sends settings and draws the state it gets back.
"use strict";

const FEATURES = ["x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY"];
const FEATURE_LABELS = {x: "X₁", y: "X₂", xSquared: "X₁²", ySquared: "X₂²", xTimesY: "X₁X₂",
                        sinX: "sin(X₁)", sinY: "sin(X₂)"};
const CONTROLS = ["learningRate", "activation", "optimizer", "regularization", "regularizationRate", "problem",
                  "dataset", "regDataset", "classes", "percTrainData", "noise", "batchSize", "seed"];
const NUMERIC = new Set(["learningRate", "regularizationRate", "classes", "percTrainData", "noise", "batchSize",
                         "seed"]);
const DISPLAY = ["showTestData", "discretize"];
const MULTICLASS = new Set(["spiral", "blobs"]);
const EXTENT = 6;
const MAX_LAYERS = 8;
const MAX_NEURONS = 16;
const CLASS_COLOURS = ["#f59322", "#0877bd", "#2ca02c", "#c2185b", "#7b1fa2", "#6d4c41"];
const ORANGE = [245, 147, 34], BLUE = [8, 119, 189], WHITE = [232, 234, 235];

const DEFAULTS = {problem: "classification", dataset: "circle", regDataset: "reg-plane", classes: 2, noise: 0,
                  percTrainData: 50, batchSize: 10, learningRate: 0.03, activation: "tanh", layerActivations: [],
                  dropout: [], networkShape: [4, 2], regularization: "none", regularizationRate: 0,
                  optimizer: "sgd", seed: 1, x: true, y: true, xSquared: false, ySquared: false,
                  xTimesY: false, sinX: false, sinY: false};

let settings = structuredClone(DEFAULTS);
let display = {showTestData: false, discretize: false};
let hiddenControls = new Set();
let state = null;
let points = {train: [], test: [], version: -1};
let structureKey = "";
let linear = null;
let example = null;
let busy = false;

const $ = (id) => document.getElementById(id);

// -- talking to the server ------------------------------------------------------------------------

async function api(method, path, body) {
  const options = {method, headers: {}};
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function say(text, ok) {
  const box = $("message");
  box.textContent = text || "";
  box.classList.toggle("ok", !!ok);
}

async function act(method, path, body) {
  try {
    const answer = await api(method, path, body);
    say("");
    return answer;
  } catch (error) {
    say(error.message);
    return null;
  }
}

async function sendSettings() {
  linear = null;
  example = null;
  $("backprop").hidden = true;
  const answer = await act("POST", "api/settings", {settings, data: points.version});
  if (answer) render(answer);
  else if (state) render(state);
  writeHash();
}

async function poll() {
  if (busy) return;
  busy = true;
  try {
    render(await api("GET", "api/state?data=" + points.version));
  } catch (error) {
    say("lost the server: " + error.message);
  } finally {
    busy = false;
  }
}

// -- the URL hash ---------------------------------------------------------------------------------

function writeHash() {
  const parts = [];
  for (const [key, value] of Object.entries(settings)) {
    parts.push(key + "=" + (Array.isArray(value) ? value.join(",") : String(value)));
  }
  for (const key of DISPLAY) parts.push(key + "=" + display[key]);
  for (const key of hiddenControls) parts.push(key + "_hide=true");
  history.replaceState(null, "", "#" + parts.join("&"));
}

function readHash() {
  const given = {};
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    if (!part) continue;
    const at = part.indexOf("=");
    const key = decodeURIComponent(at < 0 ? part : part.slice(0, at));
    const value = decodeURIComponent(at < 0 ? "" : part.slice(at + 1));
    if (key.endsWith("_hide")) {
      if (value === "true") hiddenControls.add(key.slice(0, -5));
    } else if (DISPLAY.includes(key)) {
      display[key] = value === "true";
    } else if (key in DEFAULTS) {
      if (Array.isArray(DEFAULTS[key])) {
        given[key] = value === "" ? [] : value.split(",").map((v) => (key === "layerActivations" ? v : Number(v)));
      } else if (typeof DEFAULTS[key] === "boolean") {
        given[key] = value === "true";
      } else if (NUMERIC.has(key)) {
        given[key] = Number(value);
      } else {
        given[key] = value;
      }
    }
  }
  return given;
}

// -- controls -------------------------------------------------------------------------------------

function syncControls() {
  for (const name of CONTROLS) {
    const control = $(name);
    const value = String(settings[name]);
    if (control.tagName === "SELECT" && ![...control.options].some((o) => (o.value || o.text) === value)) {
      control.add(new Option(value, value));
    }
    control.value = value;
  }
  for (const name of ["percTrainData", "noise", "batchSize"]) {
    $(name + "-value").textContent = settings[name] + (name === "percTrainData" ? "%" : "");
  }
  for (const key of DISPLAY) $(key).checked = display[key];
  const classification = settings.problem === "classification";
  show("dataset", classification);
  show("regDataset", !classification);
  show("classes", classification);
  $("classes").disabled = !(MULTICLASS.has(settings.dataset) || ["csv", "custom"].includes(settings.dataset));
  show("linearBoundaries", classification && settings.classes === 2);
  const count = settings.networkShape.length;
  $("layer-count").textContent = count + " hidden layer" + (count === 1 ? "" : "s");
  $("add-layer").disabled = count >= MAX_LAYERS;
  $("remove-layer").disabled = count === 0;
  const newClass = $("newClass");
  const labels = classification ? [...Array(settings.classes).keys()].map((k) => "class " + k + classLabel(k))
                                : ["+1 (blue)", "−1 (orange)"];
  if (newClass.options.length !== labels.length || newClass.options[0].text !== labels[0]) {
    const keep = newClass.selectedIndex;
    newClass.replaceChildren(...labels.map((text, i) => new Option(text, String(i))));
    newClass.selectedIndex = keep >= 0 && keep < labels.length ? keep : (classification && settings.classes === 2 ? 1 : 0);
  }
  applyHidden();
}

function applyHidden() {  // NAME_hide=true in the link, or a control that does not apply to this problem
  for (const element of document.querySelectorAll("[data-name]")) {
    element.classList.toggle("hidden-control", hiddenControls.has(element.dataset.name) ||
                             element.dataset.hiddenByProblem === "true");
  }
}

function classLabel(k) {
  if (settings.classes === 2) return k === 1 ? " (blue)" : " (orange)";
  return "";
}

function show(name, visible) {
  const element = document.querySelector(`[data-name="${name}"]`);
  element.dataset.hiddenByProblem = visible ? "false" : "true";
}

function readControl(name) {
  const value = $(name).value;
  settings[name] = NUMERIC.has(name) ? Number(value) : value;
  if (name === "activation") settings.layerActivations = [];
  if (name === "problem" || name === "dataset") {
    if (!MULTICLASS.has(settings.dataset) && !["csv", "custom"].includes(settings.dataset)) settings.classes = 2;
    if (MULTICLASS.has(settings.dataset) && name === "dataset" && settings.classes === 2) settings.classes = 3;
  }
}

function wireControls() {
  for (const name of CONTROLS) {
    const control = $(name);
    if (control.type === "range") {
      control.addEventListener("input", () => {
        $(name + "-value").textContent = control.value + (name === "percTrainData" ? "%" : "");
      });
    }
    control.addEventListener("change", () => { readControl(name); sendSettings(); });
  }
  for (const key of DISPLAY) {
    $(key).addEventListener("change", () => { display[key] = $(key).checked; writeHash(); drawPlane(); });
  }
  $("play").addEventListener("click", async () => {
    const playing = state && state.playing;
    const answer = await act("POST", "api/control", {action: playing ? "pause" : "play", data: points.version});
    if (answer) render(answer);
  });
  $("step").addEventListener("click", async () => {
    const answer = await act("POST", "api/control", {action: "step", data: points.version});
    if (answer) render(answer);
  });
  $("reset").addEventListener("click", async () => {
    example = null;
    $("backprop").hidden = true;
    const answer = await act("POST", "api/control", {action: "reset", data: points.version});
    if (answer) render(answer);
  });
  $("regenerate").addEventListener("click", () => {
    settings.seed = Math.floor(Math.random() * 100000);
    sendSettings();
  });
  $("add-layer").addEventListener("click", () => {
    if (settings.networkShape.length < MAX_LAYERS) { settings.networkShape.push(2); trimLayerLists(); sendSettings(); }
  });
  $("remove-layer").addEventListener("click", () => {
    if (settings.networkShape.length) { settings.networkShape.pop(); trimLayerLists(); sendSettings(); }
  });
  $("clear-points").addEventListener("click", async () => {
    const answer = await act("POST", "api/clear", {data: points.version});
    if (answer) { render(answer); writeHash(); }
  });
  $("csv-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const answer = await act("POST", "api/csv", {text: await file.text(), data: points.version});
    event.target.value = "";
    if (answer) {
      render(answer);
      writeHash();
      say(`read ${answer.train.length + answer.test.length} points from ${file.name}`, true);
    }
  });
  $("linearBoundaries").addEventListener("change", loadLinear);
  $("plane").addEventListener("click", clickPlane);
  $("plane").addEventListener("keydown", keyOnPlane);
  $("plane").addEventListener("focus", () => {  // the cross only for the keyboard, not after a click
    if ($("plane").matches(":focus-visible")) { cursor = cursor || [0, 0]; drawPlane(); }
  });
  $("plane").addEventListener("blur", () => { cursor = null; drawPlane(); });
  $("editor-cancel").addEventListener("click", () => { $("editor").hidden = true; });
  $("editor-apply").addEventListener("click", applyEdit);
  $("editor-value").addEventListener("keydown", (event) => {
    if (event.key === "Enter") applyEdit();
    if (event.key === "Escape") $("editor").hidden = true;
  });
  window.addEventListener("resize", () => drawLinks(true));
}

function trimLayerLists() {
  settings.layerActivations = settings.layerActivations.slice(0, settings.networkShape.length);
  settings.dropout = settings.dropout.slice(0, settings.networkShape.length);
}

// -- rendering a state ----------------------------------------------------------------------------

function render(next) {
  state = next;
  settings = next.settings;
  if (next.train) points = {train: next.train, test: next.test, version: next.dataVersion};
  syncControls();
  const play = $("play");
  play.textContent = next.playing ? "❚❚ Pause" : "▶ Play";
  play.setAttribute("aria-pressed", String(next.playing));
  $("epoch").textContent = next.epoch.toLocaleString("en-US");
  $("train-loss").textContent = formatLoss(next.trainLoss);
  $("test-loss").textContent = formatLoss(next.testLoss);
  const accuracy = next.testAccuracy;
  $("accuracy-line").hidden = accuracy === null;
  if (accuracy !== null) $("test-accuracy").textContent = (accuracy * 100).toFixed(1) + "%";
  if (next.warning) say(next.warning);
  buildNetwork();
  applyHidden();
  drawNeurons();
  drawLinks();
  drawPlane();
  drawCurve();
  drawLegend();
}

function formatLoss(value) {
  return value === null ? "–" : value.toFixed(3);
}

function bytesOf(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function mix(a, b, t) {
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
}

function diverging(value, discretize, strength = 1) {  // value in [-1, 1] -> orange .. white .. blue
  if (discretize) value = value >= 0 ? 1 : -1;
  return value < 0 ? mix(WHITE, ORANGE, -value * strength) : mix(WHITE, BLUE, value * strength);
}

const BACKGROUND = 0.6;  // the output plane is paler than the points drawn on it

function hex(colour) {
  const n = parseInt(colour.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function paint(canvas, size, colourAt) {
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext("2d");
  const image = context.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const [r, g, b] = colourAt(i);
    image.data[4 * i] = r; image.data[4 * i + 1] = g; image.data[4 * i + 2] = b; image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

function outputColours(output, discretize) {
  if (output.values) {
    const values = bytesOf(output.values);
    return (i) => diverging(values[i] / 127.5 - 1, discretize, BACKGROUND);
  }
  const classes = bytesOf(output.classes), confidence = bytesOf(output.confidence);
  const k = state.classCount;
  return (i) => {
    const strength = BACKGROUND * (discretize ? 1 : 0.15 + 0.85 * Math.max(0, (confidence[i] / 255 - 1 / k) / (1 - 1 / k)));
    return mix(WHITE, hex(CLASS_COLOURS[classes[i] % CLASS_COLOURS.length]), strength);
  };
}

// -- the network drawing --------------------------------------------------------------------------

function hiddenActivation(layer) {
  return settings.layerActivations[layer] || settings.activation;
}

function buildNetwork() {
  const outputs = state.classCount > 2 ? state.classCount : 1;
  const key = JSON.stringify([state.features, settings.networkShape, settings.layerActivations, settings.dropout,
                              settings.activation, outputs]);
  if (key === structureKey) return;
  structureKey = key;
  const columns = $("network-columns");
  columns.replaceChildren();
  columns.classList.toggle("compact", settings.networkShape.length > 5 || Math.max(0, ...settings.networkShape) > 10);
  const features = document.createElement("div");
  features.className = "layer features";
  features.append(layerTop("Features", null));
  const featureList = document.createElement("div");
  featureList.className = "neurons";
  for (const name of FEATURES) {
    const on = settings[name];
    const row = document.createElement("div");
    row.className = "feature" + (on ? "" : " off");
    row.dataset.name = name;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = "feature-" + name;
    box.checked = on;
    box.addEventListener("change", () => { settings[name] = box.checked; sendSettings(); });
    const label = document.createElement("label");
    label.htmlFor = box.id;
    label.textContent = FEATURE_LABELS[name];
    row.append(label, box, node(on ? `0:${state.features.indexOf(name)}` : "", `input feature ${FEATURE_LABELS[name]}`));
    featureList.append(row);
  }
  features.append(featureList);
  columns.append(features);
  settings.networkShape.forEach((width, layer) => {
    const column = document.createElement("div");
    column.className = "layer";
    column.append(layerTop(`${width} neuron${width === 1 ? "" : "s"}`, layer));
    const list = document.createElement("div");
    list.className = "neurons";
    for (let j = 0; j < width; j++) list.append(node(`${layer + 1}:${j}`, `neuron ${j + 1} of hidden layer ${layer + 1}`));
    column.append(list);
    columns.append(column);
  });
  const out = document.createElement("div");
  out.className = "layer output-node";
  out.append(layerTop("Output", null));
  const list = document.createElement("div");
  list.className = "neurons";
  for (let j = 0; j < outputs; j++) list.append(node(`${settings.networkShape.length + 1}:${j}`,
                                                outputs === 1 ? "the output" : `the output of class ${j}`));
  out.append(list);
  columns.append(out);
  $("editor").hidden = true;
}

function layerTop(title, layer) {
  const top = document.createElement("div");
  top.className = "layer-top";
  if (layer === null) {
    top.append(title);
    return top;
  }
  const buttons = document.createElement("div");
  buttons.className = "neuron-buttons";
  const plus = document.createElement("button");
  plus.type = "button";
  plus.textContent = "+";
  plus.setAttribute("aria-label", `Add a neuron to hidden layer ${layer + 1}`);
  plus.disabled = settings.networkShape[layer] >= MAX_NEURONS;
  plus.addEventListener("click", () => { settings.networkShape[layer] += 1; sendSettings(); });
  const minus = document.createElement("button");
  minus.type = "button";
  minus.textContent = "−";
  minus.setAttribute("aria-label", `Remove a neuron from hidden layer ${layer + 1}`);
  minus.disabled = settings.networkShape[layer] <= 1;
  minus.addEventListener("click", () => { settings.networkShape[layer] -= 1; sendSettings(); });
  buttons.append(plus, " ", minus);
  const activation = document.createElement("select");
  activation.setAttribute("aria-label", `Activation of hidden layer ${layer + 1}`);
  activation.id = `layer-activation-${layer}`;
  for (const [value, text] of [["relu", "ReLU"], ["tanh", "Tanh"], ["sigmoid", "Sigmoid"], ["linear", "Linear"]]) {
    activation.add(new Option(text, value));
  }
  activation.value = hiddenActivation(layer);
  activation.addEventListener("change", () => {
    settings.layerActivations = settings.networkShape.map((_, i) => (i === layer ? activation.value : hiddenActivation(i)));
    sendSettings();
  });
  const dropout = document.createElement("input");
  dropout.type = "number";
  dropout.min = "0"; dropout.max = "0.9"; dropout.step = "0.1";
  dropout.id = `layer-dropout-${layer}`;
  dropout.value = String(settings.dropout[layer] || 0);
  const dropoutLabel = document.createElement("label");
  dropoutLabel.append("dropout", dropout);
  dropout.addEventListener("change", () => {
    settings.dropout = settings.networkShape.map((_, i) => (i === layer ? Number(dropout.value) : settings.dropout[i] || 0));
    sendSettings();
  });
  top.append(buttons, title, activation, dropoutLabel);
  return top;
}

function node(id, description) {
  const box = document.createElement("div");
  box.className = "node";
  box.dataset.node = id;
  box.title = description;
  const canvas = document.createElement("canvas");
  canvas.setAttribute("aria-label", description);
  box.append(canvas);
  if (id && !id.startsWith("0:")) {
    box.tabIndex = 0;
    box.setAttribute("role", "button");
    box.setAttribute("aria-label", `${description}: edit its bias`);
    const edit = (event) => {
      const [column, j] = id.split(":").map(Number);
      const bias = state.weights[column - 1].bias[j];
      openEditor(event, `Bias of ${description}`, bias, {layer: column - 1, neuron: j, source: null});
    };
    box.addEventListener("click", edit);
    box.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") edit(event); });
  }
  return box;
}

function drawNeurons() {
  const discretize = false;
  state.neurons.forEach((column, c) => {
    column.forEach((image, j) => {
      const box = document.querySelector(`[data-node="${c}:${j}"] canvas`);
      if (!box) return;
      const values = bytesOf(image);
      const size = Math.round(Math.sqrt(values.length));
      paint(box, size, (i) => diverging(values[i] / 127.5 - 1, discretize));
    });
  });
  const outputColumn = settings.networkShape.length + 1;
  const outputs = state.classCount > 2 ? state.classCount : 1;
  for (let j = 0; j < outputs; j++) {
    const box = document.querySelector(`[data-node="${outputColumn}:${j}"] canvas`);
    if (!box) continue;
    if (outputs === 1) paint(box, state.output.size, outputColours(state.output, display.discretize));
    else {  // each class's probability: white (0) to the class's colour (1)
      const values = bytesOf(state.classImages[j]), colour = hex(CLASS_COLOURS[j % CLASS_COLOURS.length]);
      paint(box, Math.round(Math.sqrt(values.length)), (i) => mix(WHITE, colour, values[i] / 255));
    }
  }
  for (const label of document.querySelectorAll(".node .bp")) label.remove();
  if (example) annotateExample();
}

function centre(element, area, side) {
  const box = element.getBoundingClientRect();
  return [(side === "left" ? box.left : box.right) - area.left, box.top + box.height / 2 - area.top];
}

let links = {key: "", paths: []};  // the drawn weights: made when the network's shape changes, restyled after

function drawLinks(resized) {
  if (!state) return;
  const area = $("network").getBoundingClientRect();
  const key = structureKey + "|" + Math.round(area.width);
  if (key !== links.key || resized) buildLinks(area, key);
  for (const {line, title, l, j, i, text} of links.paths) {
    const w = state.weights[l].weight[j][i];
    line.setAttribute("stroke", w >= 0 ? "#0877bd" : "#f59322");
    line.setAttribute("stroke-width", String(Math.min(8, 0.4 + 1.6 * Math.abs(w))));
    line.setAttribute("stroke-opacity", String(Math.min(1, 0.25 + Math.abs(w) / 2)));
    title.textContent = `Weight ${w.toFixed(3)} ${text}`;
  }
}

function buildLinks(area, key) {
  const svg = $("links");
  svg.replaceChildren();
  links = {key, paths: []};
  const places = {};  // every node's left and right middle, measured once
  for (const element of document.querySelectorAll("#network-columns [data-node]")) {
    const box = element.getBoundingClientRect();
    if (!box.width) continue;  // a hidden feature: no lines
    const y = box.top + box.height / 2 - area.top;
    places[element.dataset.node] = {left: [box.left - area.left, y], right: [box.right - area.left, y]};
  }
  const columns = [state.features.map((_, i) => `0:${i}`)];
  settings.networkShape.forEach((width, layer) => columns.push([...Array(width).keys()].map((j) => `${layer + 1}:${j}`)));
  const outputs = state.classCount > 2 ? state.classCount : 1;
  columns.push([...Array(outputs).keys()].map((j) => `${settings.networkShape.length + 1}:${j}`));
  const ns = "http://www.w3.org/2000/svg";
  const made = document.createDocumentFragment();
  state.weights.forEach((layer, l) => {
    layer.weight.forEach((row, j) => {
      row.forEach((_, i) => {
        const from = places[columns[l][i]], to = places[columns[l + 1][j]];
        if (!from || !to) return;
        const [x1, y1] = from.right, [x2, y2] = to.left;
        const mid = (x1 + x2) / 2;
        const d = `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
        const line = document.createElementNS(ns, "path");
        line.setAttribute("d", d);
        const hit = document.createElementNS(ns, "path");
        hit.setAttribute("d", d);
        hit.setAttribute("class", "hit");
        const title = document.createElementNS(ns, "title");
        hit.append(title);
        const text = `from ${describeNode(columns[l][i])} to ${describeNode(columns[l + 1][j])}`;
        hit.addEventListener("click", (event) => openEditor(event, `Weight ${text}`, state.weights[l].weight[j][i],
                                                           {layer: l, neuron: j, source: i}));
        made.append(line, hit);
        links.paths.push({line, title, l, j, i, text});
      });
    });
  });
  svg.append(made);
}

function describeNode(id) {
  const [column, j] = id.split(":").map(Number);
  if (column === 0) return FEATURE_LABELS[state.features[j]];
  if (column === settings.networkShape.length + 1) return state.classCount > 2 ? `the output of class ${j}` : "the output";
  return `neuron ${j + 1} of layer ${column}`;
}

let editing = null;

function openEditor(event, text, value, target) {
  const editor = $("editor");
  const area = editor.parentElement.getBoundingClientRect();
  editing = target;
  $("editor-label").textContent = text;
  $("editor-value").value = value.toFixed(4);
  editor.hidden = false;
  let x = event.clientX, y = event.clientY;
  if (!x && !y && event.target.getBoundingClientRect) {
    const box = event.target.getBoundingClientRect();
    x = box.left + box.width / 2;
    y = box.bottom;
  }
  editor.style.left = Math.max(0, x - area.left - 40) + "px";
  editor.style.top = (y - area.top + 14) + "px";
  $("editor-value").focus();
  $("editor-value").select();
}

async function applyEdit() {
  const value = Number($("editor-value").value);
  $("editor").hidden = true;
  const answer = await act("POST", "api/parameter", {...editing, value, data: points.version});
  if (answer) render(answer);
}

// -- the output plane -----------------------------------------------------------------------------

const toPixel = (v, size) => ((v + EXTENT) / (2 * EXTENT)) * size;

function pointColour(label) {
  if (state.classCount === 0) return diverging(label, false);
  if (state.classCount === 2) return label >= 1 ? BLUE : ORANGE;
  return hex(CLASS_COLOURS[label % CLASS_COLOURS.length]);
}

function drawPlane() {
  if (!state) return;
  const canvas = $("plane");
  const context = canvas.getContext("2d");
  const size = canvas.width;
  const small = document.createElement("canvas");
  paint(small, state.output.size, outputColours(state.output, display.discretize));
  context.imageSmoothingEnabled = !display.discretize;
  context.drawImage(small, 0, 0, size, size);
  context.strokeStyle = "rgba(0,0,0,0.12)";
  context.beginPath();
  context.moveTo(size / 2, 0); context.lineTo(size / 2, size);
  context.moveTo(0, size / 2); context.lineTo(size, size / 2);
  context.stroke();
  const sets = [[points.train, state.classCount === 0 ? "rgba(0,0,0,0.35)" : "#fff"]];
  if (display.showTestData) sets.push([points.test, "#000"]);
  for (const [list, outline] of sets) {
    for (const [x1, x2, label] of list) {
      const [r, g, b] = pointColour(label);
      context.beginPath();
      context.arc(toPixel(x1, size), size - toPixel(x2, size), 3.5, 0, 2 * Math.PI);
      context.fillStyle = `rgb(${r},${g},${b})`;
      context.fill();
      context.lineWidth = 1;
      context.strokeStyle = outline;
      context.stroke();
    }
  }
  if (linear && $("linearBoundaries").checked) {
    drawLine(context, size, linear.perceptron, "#000", [6, 4]);
    drawLine(context, size, linear.svm, "#6a1b9a", []);
  }
  if (cursor) {
    const [cx, cy] = [toPixel(cursor[0], size), size - toPixel(cursor[1], size)];
    context.strokeStyle = "#000";
    context.lineWidth = 1.5;
    context.beginPath();
    context.moveTo(cx - 8, cy); context.lineTo(cx + 8, cy);
    context.moveTo(cx, cy - 8); context.lineTo(cx, cy + 8);
    context.stroke();
  }
  if (example) {
    const [x1, x2] = example.point;
    context.beginPath();
    context.arc(toPixel(x1, size), size - toPixel(x2, size), 7, 0, 2 * Math.PI);
    context.lineWidth = 2;
    context.strokeStyle = "#000";
    context.stroke();
  }
}

function drawLine(context, size, line, colour, dash) {
  const [w1, w2] = line.weight, b = line.bias;
  const ends = [];
  if (Math.abs(w2) > 1e-9) {
    for (const x1 of [-EXTENT, EXTENT]) ends.push([x1, -(w1 * x1 + b) / w2]);
  } else if (Math.abs(w1) > 1e-9) {
    for (const x2 of [-EXTENT, EXTENT]) ends.push([-b / w1, x2]);
  } else return;
  context.save();
  context.setLineDash(dash);
  context.lineWidth = 2;
  context.strokeStyle = colour;
  context.beginPath();
  context.moveTo(toPixel(ends[0][0], size), size - toPixel(ends[0][1], size));
  context.lineTo(toPixel(ends[1][0], size), size - toPixel(ends[1][1], size));
  context.stroke();
  context.restore();
}

async function loadLinear() {
  linear = null;
  $("linear-info").textContent = "";
  if ($("linearBoundaries").checked) {
    linear = await act("POST", "api/linear", {});
    if (linear) {
      const p = linear.perceptron, s = linear.svm;
      $("linear-info").textContent =
        `Perceptron rule (dashed black): training accuracy ${(p.accuracy * 100).toFixed(0)}%, ` +
        `${p.converged ? "converged in " + p.epochs + " epochs" : "not converged after " + p.epochs + " epochs"}. ` +
        `Linear SVM, hinge loss (purple): training accuracy ${(s.accuracy * 100).toFixed(0)}%. ` +
        "Both see X₁ and X₂ only: a straight line.";
    }
  }
  drawPlane();
}

async function clickPlane(event) {
  if (!state) return;
  const box = $("plane").getBoundingClientRect();
  const x1 = ((event.clientX - box.left) / box.width) * 2 * EXTENT - EXTENT;
  const x2 = EXTENT - ((event.clientY - box.top) / box.height) * 2 * EXTENT;
  await usePlane(x1, x2, event.shiftKey);
}

// the keyboard's way to the plane: arrows move a cross, Enter adds (Shift+Enter: the other class) or traces
let cursor = null;

function keyOnPlane(event) {
  const moves = {ArrowLeft: [-0.5, 0], ArrowRight: [0.5, 0], ArrowUp: [0, 0.5], ArrowDown: [0, -0.5]};
  if (event.key in moves) {
    event.preventDefault();
    cursor = cursor || [0, 0];
    cursor = cursor.map((v, i) => Math.max(-EXTENT, Math.min(EXTENT, v + moves[event.key][i])));
    drawPlane();
  } else if (event.key === "Enter" && cursor) {
    event.preventDefault();
    usePlane(cursor[0], cursor[1], event.shiftKey);
  }
}

async function usePlane(x1, x2, shift) {
  const classification = state.classCount > 0;
  const chosen = Number($("newClass").value);
  let label;
  if (classification) {
    const k = settings.classes;
    label = shift ? (k === 2 ? 1 - chosen : (chosen + 1) % k) : chosen;
  } else {
    label = (shift ? chosen === 0 : chosen === 1) ? -1 : 1;
  }
  const mode = document.querySelector("input[name=clickMode]:checked").value;
  if (mode === "backprop") {
    let best = null, bestDistance = 0.5;
    for (const p of points.train.concat(points.test)) {
      const distance = Math.hypot(p[0] - x1, p[1] - x2);
      if (distance < bestDistance) { best = p; bestDistance = distance; }
    }
    const [px, py, pl] = best || [x1, x2, label];
    example = await act("POST", "api/backprop", {x1: px, x2: py, label: pl});
    showExample();
    drawNeurons();
    drawPlane();
    return;
  }
  const answer = await act("POST", "api/point", {x1, x2, label, data: points.version});
  if (answer) { render(answer); writeHash(); }
}

// -- backprop of one example ----------------------------------------------------------------------

const f4 = (v) => (Math.abs(v) < 5e-5 && v !== 0 ? v.toExponential(1) : v.toFixed(4));

function annotateExample() {
  example.layers.forEach((layer, l) => {
    layer.a.forEach((a, j) => {
      const box = document.querySelector(`[data-node="${l + 1}:${j}"]`);
      if (!box) return;
      const label = document.createElement("div");
      label.className = "bp";
      label.textContent = `a ${f4(a)}\nδ ${f4(layer.dE_dz[j])}`;
      box.append(label);
    });
  });
}

function cell(row, text, header) {
  const element = document.createElement(header ? "th" : "td");
  element.textContent = text;
  row.append(element);
}

function table(caption, heads, rows) {
  const element = document.createElement("table");
  const title = element.createCaption();
  title.textContent = caption;
  const head = element.insertRow();
  for (const text of heads) cell(head, text, true);
  for (const values of rows) {
    const row = element.insertRow();
    values.forEach((text, i) => cell(row, text, i === 0));
  }
  return element;
}

function showExample() {
  const panel = $("backprop");
  if (!example) { panel.hidden = true; return; }
  panel.hidden = false;
  const e = example;
  $("backprop-summary").textContent =
    `Example (X₁, X₂) = (${e.point[0].toFixed(2)}, ${e.point[1].toFixed(2)}), label ${e.label}, target ` +
    `[${e.target.map(f4).join(", ")}]; inputs ${e.features.map((f, i) => FEATURE_LABELS[f] + " = " + f4(e.inputs[i])).join(", ")}. ` +
    `Loss ${e.lossFormula} = ${f4(e.loss)}; after one step w ← w − ${e.lr}·∂E/∂w on this example: ${f4(e.lossAfter)}. ` +
    "On the drawing: a = each neuron's output, δ = ∂E/∂z (z = its weighted input).";
  const tables = [];
  const names = (l) => (l === 0 ? e.features.map((f) => FEATURE_LABELS[f]) : e.layers[l - 1].a.map((_, i) => `h${l}.${i + 1}`));
  e.layers.forEach((layer, l) => {
    const last = l === e.layers.length - 1;
    const title = last ? "Output layer" : `Hidden layer ${l + 1}`;
    tables.push(table(`${title}: forward and backward`, ["neuron", "z", "a", "∂E/∂a", "∂E/∂z", "b", "∂E/∂b", "new b"],
      layer.z.map((z, j) => [`${last ? "out" : "h" + (l + 1)}.${j + 1}`, f4(z), f4(layer.a[j]), f4(layer.dE_da[j]),
                             f4(layer.dE_dz[j]), f4(layer.bias[j]), f4(layer.dE_db[j]), f4(layer.newBias[j])])));
    const inputs = names(l);
    tables.push(table(`${title}: weights w (∂E/∂w = δ · input) → new w`, ["to \\ from", ...inputs],
      layer.weight.map((row, j) => [`${last ? "out" : "h" + (l + 1)}.${j + 1}`,
        ...row.map((w, i) => `${f4(w)} (${f4(layer.dE_dw[j][i])}) → ${f4(layer.newWeight[j][i])}`)])));
  });
  $("backprop-tables").replaceChildren(...tables);
}

// -- loss curve and legend ------------------------------------------------------------------------

function drawCurve() {
  const canvas = $("loss-curve");
  const context = canvas.getContext("2d");
  const {width, height} = canvas;
  context.clearRect(0, 0, width, height);
  const history = state.history.filter((h) => h[1] !== null || h[2] !== null);
  if (history.length < 2) return;
  const top = Math.max(...history.flatMap((h) => [h[1] || 0, h[2] || 0]), 1e-6);
  const last = history[history.length - 1][0] || 1;
  for (const [index, colour] of [[1, "#999"], [2, "#000"]]) {
    context.beginPath();
    context.strokeStyle = colour;
    context.lineWidth = 1.5;
    history.forEach((h, i) => {
      if (h[index] === null) return;
      const x = (h[0] / last) * (width - 2) + 1, y = height - 2 - (h[index] / top) * (height - 6);
      if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
    });
    context.stroke();
  }
}

function drawLegend() {
  const legend = $("legend");
  const items = [];
  if (state.classCount === 0) {
    items.push(["#f59322", "−1"], ["#0877bd", "+1 (regression: the colour is the value)"]);
  } else {
    for (let k = 0; k < state.classCount; k++) items.push([CLASS_COLOURS[k % CLASS_COLOURS.length], `class ${k}`]);
  }
  const key = JSON.stringify(items);
  if (legend.dataset.key === key) return;
  legend.dataset.key = key;
  legend.replaceChildren(...items.map(([colour, text]) => {
    const span = document.createElement("span");
    span.style.setProperty("--swatch", colour);
    span.textContent = text;
    return span;
  }));
}

// -- start ----------------------------------------------------------------------------------------

async function start() {
  wireControls();
  const given = readHash();
  settings = {...structuredClone(DEFAULTS), ...given};
  await sendSettings();
  if (!state) {  // the shared link held a setting the server refused: keep the message, use the defaults
    const message = $("message").textContent;
    settings = structuredClone(DEFAULTS);
    await sendSettings();
    say(message);
  }
  setInterval(() => { if (state && state.playing) poll(); }, 200);
  window.addEventListener("hashchange", () => {
    const again = readHash();
    if (JSON.stringify({...settings, ...again}) !== JSON.stringify(settings)) {
      settings = {...settings, ...again};
      sendSettings();
    }
  });
}

start();
