// The shenjing playground page: the output plane (heatmap, points, the perceptron/SVM lines), clicks and
// keys on it, the backprop-one-example tables and the loss curve. Loaded before playground.js.
"use strict";

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
