// The shenjing playground page: controls, the URL hash, talking to the server, and rendering a state
// (network.js draws the network, plane.js the output plane). The network itself lives in the Python
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
