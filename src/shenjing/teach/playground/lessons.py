"""The course's lessons beside the playground's network (seed 004):

* ``linear_boundaries``: the straight line the perceptron rule finds and the one a linear SVM (hinge
  loss) finds on the same two-class data, from X₁ and X₂ alone: where a line is enough and where
  (circle, xor) it is not;
* ``backprop_example``: one training example through the network with every number of one gradient
  step: each neuron's weighted input z and output a, the gradients ∂E/∂z and ∂E/∂a arriving at it,
  and each weight's gradient and updated value (``shenjing.teach.trace_model``, what ``shenjing trace``
  prints).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import shenjing
from shenjing import nn
from shenjing.models import Perceptron
from shenjing.teach.playground import data as datasets
from shenjing.teach.playground.data import DataError
from shenjing.teach.playground.session import Session
from shenjing.teach.trace_nets import trace_model

__all__ = ["linear_boundaries", "backprop_example"]


def _line(weight: np.ndarray, bias: float, points: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    predicted = (points @ weight + bias >= 0).astype(np.float64)
    return {"weight": [round(float(w), 5) for w in weight], "bias": round(float(bias), 5),
            "accuracy": round(float((predicted == labels).mean()), 4)}


def linear_boundaries(session: Session, perceptron_epochs: int = 20, svm_steps: int = 300) -> dict[str, Any]:
    """The perceptron's and the linear SVM's line w₁x₁ + w₂x₂ + b = 0 on the training points (two classes)."""
    with session.lock:
        if session.settings.class_count() != 2:
            raise DataError("the perceptron and the linear SVM here separate two classes; choose a two-class "
                            "data set")
        points, labels = session.train_points.copy(), session.train_labels.copy()
    if not len(points):
        raise DataError("there are no training points to separate")
    x = shenjing.tensor(points, dtype=shenjing.float64)
    perceptron = Perceptron(2).double()
    history = perceptron.fit(x, shenjing.tensor(labels, dtype=shenjing.float64), lr=0.1, epochs=perceptron_epochs)
    result = {"perceptron": {**_line(perceptron.weight.numpy(), float(perceptron.bias.item()), points, labels),
                             "epochs": history.epochs, "converged": history.converged}}

    shenjing.manual_seed(session.settings.seed)
    svm = nn.Linear(2, 1).double()
    optimizer = shenjing.optim.SGD(svm.parameters(), lr=0.05)
    targets = shenjing.tensor(labels * 2 - 1, dtype=shenjing.float64)
    regularization = 0.01
    for _ in range(svm_steps):
        optimizer.zero_grad()
        margins = targets * svm(x).reshape(-1)
        loss = (1 - margins).clamp(min=0).mean() + regularization / 2 * (svm.weight ** 2).sum()
        loss.backward()
        optimizer.step()
    result["svm"] = {**_line(svm.weight.detach().numpy()[0], float(svm.bias.item()), points, labels),
                     "hingeLoss": round(float(loss.item()), 5)}
    return result


def _numbers(array: np.ndarray) -> Any:
    return np.round(np.asarray(array, dtype=np.float64), 6).tolist()


def backprop_example(session: Session, x1: float, x2: float, label: float) -> dict[str, Any]:
    """One example (x1, x2) with ``label`` through the network, and one gradient step with the learning
    rate (plain ``w − lr·∂E/∂w``, for one example): per layer the values and gradients, per weight its
    gradient and new value. The network itself is not changed."""
    with session.lock:
        s = session.settings
        classes = s.class_count()
        if abs(x1) > datasets.EXTENT or abs(x2) > datasets.EXTENT:
            raise DataError(f"the point ({x1:g}, {x2:g}) is off the plane")
        inputs = datasets.feature_matrix(np.array([[x1, x2]]), s.features())
        model = session.model
        model.eval()
        if classes > 2:
            if label != int(label) or not 0 <= label < classes:
                raise DataError(f"the example's class must be 0 to {classes - 1}, got {label:g}")
            target = np.eye(classes)[int(label)][None]

            def loss(output: shenjing.Tensor, t: shenjing.Tensor) -> shenjing.Tensor:
                return -(t * shenjing.log_softmax(output, dim=1)).sum()
            formula = "E = −log softmax(z)[class]"
        else:
            target = [[label * 2 - 1 if classes == 2 else label]]
            loss = None
            formula = "E = ½(t − o)²"
        trace = trace_model(model, inputs, target, loss, lr=s.learningRate)
        modules = list(model)
    named = {step.name for step in trace.forward}
    layers = []
    for i, module in enumerate(modules):
        if not isinstance(module, nn.Linear):
            continue
        name = str(i)
        last = i + 1
        while last < len(modules) and not isinstance(modules[last], nn.Linear):
            last += 1
        # the layer's output after its activation (Identity and eval-mode Dropout pass z on unchanged)
        out_name = next(str(k) for k in range(last - 1, i - 1, -1) if str(k) in named)
        layers.append({
            "z": _numbers(trace.value(name))[0], "dE_dz": _numbers(trace.gradient(name))[0],
            "a": _numbers(trace.value(out_name))[0], "dE_da": _numbers(trace.gradient(out_name))[0],
            "weight": _numbers(trace.value(f"{name}.weight")), "dE_dw": _numbers(trace.gradient(f"{name}.weight")),
            "newWeight": _numbers(trace.new_value(f"{name}.weight")),
            "bias": _numbers(trace.value(f"{name}.bias")), "dE_db": _numbers(trace.gradient(f"{name}.bias")),
            "newBias": _numbers(trace.new_value(f"{name}.bias")),
        })
    return {"point": [x1, x2], "label": label, "inputs": _numbers(inputs)[0], "features": s.features(),
            "target": _numbers(target)[0], "loss": round(float(trace.value("loss")), 6),
            "lossAfter": round(float(trace.after("loss")), 6), "lossFormula": formula, "lr": s.learningRate,
            "layers": layers}
