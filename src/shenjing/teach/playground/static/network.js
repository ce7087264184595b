// The shenjing playground page: the network drawing (features, neurons as small heatmaps, weights as
// lines) and the weight/bias editor. Loaded before playground.js, which holds the state it draws.
"use strict";

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
