"""Exporting a playground network: a Python file that builds the same ``nn.Sequential``, loads the
weights (a ``shenjing.save`` file, read with NumPy alone so the file runs on PyTorch too) and evaluates
the model on the test points saved with them.

The weights file is ``{"format": "shenjing-playground", "state_dict": ..., "features": [...],
"problem": ..., "classes": ..., "settings": {URL-hash name: value, lists as "4,2"}, "test_points": (n, 2)
tensor, "test_labels": (n,) tensor, "test_loss": float}``. ``shenjing evaluate FILE`` reads it too
(``evaluate_export``).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

import shenjing
from shenjing import nn
from shenjing.teach.playground.data import feature_matrix
from shenjing.teach.playground.session import Session, build_network, loss_of, predicted_classes
from shenjing.teach.playground.settings import Settings

__all__ = ["python_source", "weights_bytes", "read_export", "evaluate_export", "WEIGHTS_NAME", "SCRIPT_NAME",
           "EXPORT_FORMAT"]

EXPORT_FORMAT = "shenjing-playground"

SCRIPT_NAME = "playground_model.py"
WEIGHTS_NAME = "playground_model.shenjing"

_FEATURE_CODE = {"x": "x1", "y": "x2", "xSquared": "x1 * x1", "ySquared": "x2 * x2", "xTimesY": "x1 * x2",
                 "sinX": "torch.sin(x1)", "sinY": "torch.sin(x2)"}


def _module_code(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return f"nn.Linear({module.in_features}, {module.out_features})"
    if isinstance(module, nn.Dropout):
        return f"nn.Dropout({module.p})"
    return f"nn.{type(module).__name__}()"


def python_source(session: Session) -> str:
    """The text of a runnable Python file for ``session``'s network (``python playground_model.py``)."""
    with session.lock:
        s = session.settings
        layers = ",\n        ".join(_module_code(m) for m in session.model)
        features = s.features()
        columns = ", ".join(_FEATURE_CODE[f] for f in features)
        classes = s.class_count()
    if classes > 2:
        loss = "nn.functional.cross_entropy(output, labels.long())"
        predicted = "output.argmax(dim=1)"
        what = f"{classes} classes: one output per class (softmax and cross-entropy)"
    elif classes == 2:
        loss = "0.5 * ((output.reshape(-1) - (2 * labels - 1)) ** 2).mean()"
        predicted = "(output.reshape(-1) > 0).long()"
        what = "two classes: one tanh output, +1 for class 1 and -1 for class 0, loss ½(output − target)²"
    else:
        loss = "0.5 * ((output.reshape(-1) - labels) ** 2).mean()"
        predicted = None
        what = "regression: one linear output, loss ½(output − target)²"
    accuracy = "" if predicted is None else (
        f"\n    correct = ({predicted} == labels.long()).float().mean().item()"
        f"\n    print(f\"test accuracy: {{correct:.2%}}\")")
    return f'''"""A network trained in the shenjing playground (`shenjing playground`).

Data set: {s.data_name()}; input features: {", ".join(features)}; {what}.
Run it beside its weights file: python {SCRIPT_NAME} [{WEIGHTS_NAME}] [--torch]
It rebuilds the network, loads the weights and evaluates the test points saved with them. The code is
PyTorch's API: it runs on shenjing (`import shenjing as torch`) or, with --torch or without shenjing, on
PyTorch. The weights file is shenjing.save's format (a NumPy .npz archive described by JSON, no pickle);
read_checkpoint below reads it with NumPy alone.
"""

import json
import sys
from pathlib import Path

import numpy as np

if "--torch" in sys.argv:
    import torch
    from torch import nn
else:
    try:
        import shenjing as torch
        from shenjing import nn
    except ImportError:
        import torch
        from torch import nn

FEATURES = {features!r}


def input_features(points):
    """(n, 2) points of the plane -> (n, {len(features)}) network inputs: {", ".join(features)}."""
    x1, x2 = points[:, 0], points[:, 1]
    return torch.stack([{columns}], dim=1)


def build_model():
    return nn.Sequential(
        {layers},
    )


def loss_of(output, labels):
    return {loss}


def read_checkpoint(path):
    """A shenjing.save file with NumPy alone: its JSON description names one array entry per tensor."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {{name: archive[name] for name in archive.files}}
    root = json.loads(arrays.pop("__shenjing__").tobytes().decode("utf-8"))["root"]

    def decode(node):
        kind = node["type"]
        if kind == "tensor":
            return torch.tensor(arrays[node["key"]])
        if kind == "ndarray":
            return arrays[node["key"]]
        if kind in ("list", "tuple"):
            return [decode(item) for item in node["items"]]
        if kind == "dict":
            return {{decode(key): decode(value) for key, value in node["items"]}}
        return None if kind == "none" else node.get("value", node.get("name"))
    return decode(root)


def main(path=None):
    path = Path(path) if path else Path(__file__).with_name("{WEIGHTS_NAME}")
    saved = read_checkpoint(path)
    model = build_model()
    model.load_state_dict(saved["state_dict"])
    model.eval()
    points, labels = saved["test_points"], saved["test_labels"]
    with torch.no_grad():
        output = model(input_features(points))
    print(model)
    print(f"test loss: {{loss_of(output, labels).item():.4f}} on {{len(labels)}} test points"){accuracy}
    return model


if __name__ == "__main__":
    main(next((a for a in sys.argv[1:] if not a.startswith("--")), None))
'''


def weights_bytes(session: Session) -> bytes:
    """The ``shenjing.save`` file the exported script loads (weights, features, test points)."""
    with session.lock:
        s = session.settings
        contents: dict[str, Any] = {
            "format": EXPORT_FORMAT, "state_dict": session.model.state_dict(),
            "features": s.features(), "problem": s.problem, "classes": s.class_count(),
            "settings": {k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in s.to_dict().items()},
            "test_points": shenjing.tensor(session.test_points, dtype=shenjing.float32),
            "test_labels": shenjing.tensor(session.test_labels, dtype=shenjing.float32),
            "test_loss": float(session.losses()[1]),
        }
    buffer = io.BytesIO()
    shenjing.save(contents, buffer)
    return buffer.getvalue()


def read_export(path: str) -> dict[str, Any] | None:
    """The contents of a playground weights file, or None if ``path`` holds something else."""
    try:
        contents = shenjing.load(path)
    except Exception:  # not a shenjing.save file at all: the caller's own error says what it expected
        return None
    return contents if isinstance(contents, dict) and contents.get("format") == EXPORT_FORMAT else None


def evaluate_export(contents: dict[str, Any]) -> tuple[nn.Sequential, dict[str, Any]]:
    """(the network rebuilt from a playground weights file, in eval mode; its test loss, test accuracy
    (None for regression) and number of test points), recomputed from the saved test points."""
    settings = Settings.from_dict(contents["settings"])
    model = build_network(settings)
    model.load_state_dict(contents["state_dict"])
    model.eval()
    points = contents["test_points"].numpy().astype(np.float64)
    labels = contents["test_labels"].numpy().astype(np.float64)
    classes = settings.class_count()
    with shenjing.no_grad():
        output = model(shenjing.tensor(feature_matrix(points, settings.features()), dtype=shenjing.float32))
        loss = float(loss_of(output, labels, classes).item())
    accuracy = None if classes == 0 else float((predicted_classes(output, classes) == labels).mean())
    return model, {"loss": loss, "accuracy": accuracy, "points": len(labels)}
