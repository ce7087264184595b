"""One playground run: the data, a shenjing ``nn.Module`` built from the settings, its optimiser, and
what the page draws (losses, the output over the plane, every neuron over the plane, the weights).

The network is ``nn.Sequential``: for each hidden layer ``Linear``, its activation and (when asked)
``Dropout``; then the output ``Linear``. Two classes: one output unit with ``tanh``, targets -1/+1 and
the squared error ½(o − t)², as on the TensorFlow Playground; regression: one linear output unit and
the same loss; three or more classes: one output per class, softmax and cross-entropy. L1 adds
rate·Σ|w| and L2 adds rate·½Σw² over the weights (not the biases) to the training loss; the losses
shown are without the penalty.

>>> from shenjing.teach.playground.settings import Settings
>>> run = Session(Settings.from_dict({"dataset": "xor", "networkShape": "3"}))
>>> run.model
Sequential(
  (0): Linear(in_features=2, out_features=3, bias=True)
  (1): Tanh()
  (2): Linear(in_features=3, out_features=1, bias=True)
  (3): Tanh()
)
>>> run.train_epoch(); run.epoch
1
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import numpy as np

import shenjing
from shenjing import nn, optim
from shenjing.nn import functional as F
from shenjing.teach.playground import data as datasets
from shenjing.teach.playground.data import EXTENT, DataError
from shenjing.teach.playground.settings import SAMPLES, Settings, SettingsError

__all__ = ["Session", "OUTPUT_GRID", "NEURON_GRID", "MAX_HISTORY"]

OUTPUT_GRID = 50
"""The output heatmap is the network evaluated on OUTPUT_GRID x OUTPUT_GRID points of the plane."""
NEURON_GRID = 20
MAX_HISTORY = 400

_ACTIVATION_MODULES = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def grid_points(size: int) -> np.ndarray:
    """(size², 2) points of the plane, row by row from the top (x2 = +6) down, x1 from left to right."""
    ticks = np.linspace(-EXTENT, EXTENT, size)
    xs, ys = np.meshgrid(ticks, ticks[::-1])
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _bytes(values: np.ndarray, low: float = -1.0, high: float = 1.0) -> str:
    """Values in [low, high] as base64 bytes 0..255 (the page's compact image format)."""
    scaled = (np.clip(np.nan_to_num(values), low, high) - low) / (high - low) * 255
    return base64.b64encode(np.round(scaled).astype(np.uint8).tobytes()).decode("ascii")


def build_network(settings: Settings) -> nn.Sequential:
    """The network of ``settings``: hidden ``Linear`` + activation (+ ``Dropout``) layers, then the output."""
    layers: list[nn.Module] = []
    width = len(settings.features())
    for neurons, activation, dropout in zip(settings.networkShape, settings.hidden_activations(),
                                            settings.hidden_dropout()):
        layers += [nn.Linear(width, neurons), _ACTIVATION_MODULES[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = neurons
    classes = settings.class_count()
    layers.append(nn.Linear(width, classes if classes > 2 else 1))
    if classes == 2:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def loss_of(output: shenjing.Tensor, labels: np.ndarray, classes: int) -> shenjing.Tensor:
    """The playground's loss: cross-entropy for 3+ classes; else ½(output − target)² averaged, the
    target ±1 for two classes (a tanh output) and the value itself for regression (``classes`` 0)."""
    if classes > 2:
        return F.cross_entropy(output, shenjing.tensor(labels.astype(np.int64)))
    target = labels * 2 - 1 if classes == 2 else labels
    return 0.5 * ((output.reshape(-1) - shenjing.tensor(target, dtype=shenjing.float32)) ** 2).mean()


def predicted_classes(output: shenjing.Tensor, classes: int) -> np.ndarray:
    """The class of each row of ``output``: the largest output for 3+ classes, else output > 0."""
    values = output.numpy()
    if classes > 2:
        return values.argmax(axis=1).astype(np.float64)
    return (values.reshape(-1) > 0).astype(np.float64)


class Session:
    """The state of one playground: settings, data, model, optimiser, epoch and loss history.

    Every method takes ``lock``, so the training thread and the web requests may call them at once.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.lock = threading.RLock()
        self.settings = settings or Settings()
        self.points = np.zeros((0, 2))
        self.labels = np.zeros(0)
        self.train_count: int | None = None  # the first train_count points train; None: percTrainData says
        self.data_version = 0
        self.version = 0
        self.configure(self.settings)

    # -- setting up -----------------------------------------------------------------------------

    def configure(self, settings: Settings) -> None:
        """New settings and a new model. A generated data set is made again (the same seed gives the
        same points); the user's own points (``csv``/``custom``) are kept while the problem stays."""
        with self.lock:
            old = self.settings
            self.settings = settings
            if settings.data_name() in ("csv", "custom"):
                if settings.percTrainData != old.percTrainData:
                    self.train_count = None  # a new ratio splits the user's points again
                if settings.problem != old.problem:
                    self.points, self.labels, self.train_count = np.zeros((0, 2)), np.zeros(0), 0
                elif settings.problem == "classification" and len(self.labels) and \
                        self.labels.max() >= settings.classes:
                    self.settings = old
                    raise SettingsError(f"classes: your data hold {int(self.labels.max()) + 1} classes, the "
                                        f"setting says {settings.classes}")
            else:
                self.points, self.labels = datasets.make_dataset(
                    settings.data_name(), SAMPLES, settings.noise / 100, settings.seed, settings.classes)
                self.train_count = None
            self.data_version += 1
            self.reset()

    def reset(self) -> None:
        """A fresh model (the same seed gives the same start), epoch 0, an empty loss history."""
        with self.lock:
            s = self.settings
            shenjing.manual_seed(s.seed)
            self.model = build_network(s)
            self.optimizer = self._optimizer()
            self.shuffle = np.random.default_rng(s.seed + 1)
            self.epoch = 0
            self.diverged: str | None = None
            self.history: list[tuple[int, float, float]] = []
            self.version += 1
            self._split()
            self.history.append((0, *self.losses()))

    def _optimizer(self) -> optim.Optimizer:
        s = self.settings
        if s.optimizer == "adam":
            return optim.Adam(self.model.parameters(), lr=s.learningRate)
        return optim.SGD(self.model.parameters(), lr=s.learningRate, momentum=0.9 if s.optimizer == "momentum" else 0)

    def _split(self) -> None:
        if self.train_count is None:
            train_x, train_y, test_x, test_y = datasets.split(self.points, self.labels, self.settings.percTrainData)
        else:
            n = self.train_count
            train_x, train_y, test_x, test_y = self.points[:n], self.labels[:n], self.points[n:], self.labels[n:]
        self.train_points, self.train_labels = train_x, train_y
        self.test_points, self.test_labels = test_x, test_y
        features = self.settings.features()
        self.train_inputs = shenjing.tensor(datasets.feature_matrix(train_x, features), dtype=shenjing.float32)
        self.test_inputs = shenjing.tensor(datasets.feature_matrix(test_x, features), dtype=shenjing.float32)

    # -- the user's own data --------------------------------------------------------------------

    def add_point(self, x1: float, x2: float, label: float) -> None:
        """Add a training point (clicked on the plane); the data set becomes the user's ("custom")."""
        with self.lock:
            if abs(x1) > EXTENT or abs(x2) > EXTENT:
                raise DataError(f"the point ({x1:g}, {x2:g}) is off the plane [-{EXTENT:g}, {EXTENT:g}]²")
            if len(self.points) >= datasets.MAX_POINTS:
                raise DataError(f"the data set is full: at most {datasets.MAX_POINTS} points")
            s = self.settings
            if s.problem == "classification":
                if label != int(label) or not 0 <= label < s.classes:
                    raise DataError(f"a point's class must be 0 to {s.classes - 1}, got {label:g}")
            elif not -1 <= label <= 1:
                raise DataError(f"a regression label must lie between -1 and 1, got {label:g}")
            self._become_own("custom")
            n_train = len(self.train_points)
            self.points = np.concatenate([self.points[:n_train], [[x1, x2]], self.points[n_train:]])
            self.labels = np.concatenate([self.labels[:n_train], [label], self.labels[n_train:]])
            self.data_version += 1
            self.train_count = n_train + 1  # clicked points stay training points
            self.train_points = self.points[:n_train + 1]
            self.train_labels = self.labels[:n_train + 1]
            features = s.features()
            self.train_inputs = shenjing.tensor(datasets.feature_matrix(self.train_points, features),
                                                dtype=shenjing.float32)

    def clear_points(self) -> None:
        with self.lock:
            self._become_own("custom")
            self.points, self.labels, self.train_count = np.zeros((0, 2)), np.zeros(0), 0
            self.data_version += 1
            self.reset()

    def load_csv(self, text: str) -> int:
        """Replace the data by a CSV's (``x1,x2,label``); returns the number of points."""
        with self.lock:
            points, labels = datasets.parse_csv(text, self.settings.problem)
            if self.settings.problem == "classification":
                self.settings.classes = max(2, int(labels.max()) + 1)
            self._become_own("csv")
            order = np.random.default_rng(self.settings.seed).permutation(len(points))
            self.points, self.labels, self.train_count = points[order], labels[order], None
            self.data_version += 1
            self.reset()
            return len(points)

    def _become_own(self, name: str) -> None:
        if self.settings.problem == "classification":
            self.settings.dataset = name
        else:
            self.settings.regDataset = name

    # -- training -------------------------------------------------------------------------------

    def _loss(self, output: shenjing.Tensor, labels: np.ndarray) -> shenjing.Tensor:
        return loss_of(output, labels, self.settings.class_count())

    def _penalty(self) -> shenjing.Tensor | float:
        s = self.settings
        if s.regularization == "none" or s.regularizationRate == 0:
            return 0.0
        weights = [m.weight for m in self.model if isinstance(m, nn.Linear)]
        if s.regularization == "L1":
            return s.regularizationRate * sum(w.abs().sum() for w in weights)
        return s.regularizationRate * 0.5 * sum((w * w).sum() for w in weights)

    def train_epoch(self) -> None:
        """One pass over the training points in shuffled mini-batches of ``batchSize``."""
        with self.lock:
            count = len(self.train_points)
            if self.diverged:
                return
            if count:
                self.model.train()
                order = self.shuffle.permutation(count)
                size = self.settings.batchSize
                for start in range(0, count, size):
                    batch = order[start:start + size]
                    self.optimizer.zero_grad()
                    with np.errstate(all="ignore"):
                        output = self.model(self.train_inputs[shenjing.tensor(batch)])
                        loss = self._loss(output, self.train_labels[batch]) + self._penalty()
                        if not np.isfinite(loss.item()):
                            self.diverged = (f"the training loss became {loss.item()} in epoch {self.epoch + 1}: "
                                             f"the learning rate ({self.settings.learningRate:g}) is probably "
                                             f"too large; choose a smaller one (or press Reset)")
                            break
                        loss.backward()
                        self.optimizer.step()
            self.epoch += 1
            self.history.append((self.epoch, *self.losses()))

    def losses(self) -> tuple[float, float]:
        """(training loss, test loss), NaN for an empty set."""
        with self.lock, shenjing.no_grad(), np.errstate(all="ignore"):
            self.model.eval()
            values = []
            for inputs, labels in ((self.train_inputs, self.train_labels), (self.test_inputs, self.test_labels)):
                values.append(float(self._loss(self.model(inputs), labels).item()) if len(labels) else float("nan"))
            return values[0], values[1]

    def accuracy(self, which: str = "test") -> float | None:
        """The share of ``which`` ("train"/"test") points classified right (None for regression)."""
        if self.settings.problem == "regression":
            return None
        with self.lock, shenjing.no_grad():
            self.model.eval()
            inputs, labels = ((self.train_inputs, self.train_labels) if which == "train"
                              else (self.test_inputs, self.test_labels))
            if not len(labels):
                return None
            return float((self.predict_classes(self.model(inputs)) == labels).mean())

    def predict_classes(self, output: shenjing.Tensor) -> np.ndarray:
        return predicted_classes(output, self.settings.class_count())

    # -- what the page shows --------------------------------------------------------------------

    def layer_outputs(self, points: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """(the values of each hidden layer's neurons, (n, neurons) each; the output) at ``points``."""
        with self.lock, shenjing.no_grad(), np.errstate(all="ignore"):
            self.model.eval()
            h = shenjing.tensor(datasets.feature_matrix(points, self.settings.features()), dtype=shenjing.float32)
            hidden = []
            modules = list(self.model)
            for i, module in enumerate(modules):
                h = module(h)
                if 0 < i < len(modules) - 1 and isinstance(modules[i + 1], nn.Linear):
                    hidden.append(h.numpy().copy())  # the end of a hidden layer
            return hidden, h.numpy()

    def output_image(self) -> dict[str, Any]:
        """The output over the plane: ``values`` (bytes of -1..1) or, for 3+ classes, ``classes`` and
        ``confidence`` (the largest softmax probability)."""
        _, output = self.layer_outputs(grid_points(OUTPUT_GRID))
        if self.settings.class_count() > 2:
            probabilities = np.exp(output - output.max(axis=1, keepdims=True))
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            return {"size": OUTPUT_GRID, "classes": base64.b64encode(probabilities.argmax(1).astype(np.uint8)
                                                                      .tobytes()).decode("ascii"),
                    "confidence": _bytes(probabilities.max(1), 0, 1)}
        return {"size": OUTPUT_GRID, "values": _bytes(output.reshape(-1))}

    def neuron_images(self) -> list[list[str]]:
        """Per column of the drawing (the input features, then each hidden layer): one image per neuron.
        Features and unbounded neurons are scaled by their largest size on the plane when it exceeds 1."""
        points = grid_points(NEURON_GRID)
        features = datasets.feature_matrix(points, self.settings.features())
        hidden, _ = self.layer_outputs(points)
        columns = [features] + hidden
        with np.errstate(all="ignore"):
            return [[_bytes(col / max(1.0, float(np.abs(col).max()))) for col in values.T] for values in columns]

    def class_images(self) -> list[str]:
        """For three or more classes: each class's softmax probability over the plane (bytes of 0..1)."""
        if self.settings.class_count() <= 2:
            return []
        _, output = self.layer_outputs(grid_points(NEURON_GRID))
        probabilities = np.exp(output - output.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return [_bytes(column, 0, 1) for column in probabilities.T]

    def weights(self) -> list[dict[str, Any]]:
        def shown(values: np.ndarray) -> list:  # a diverged weight is drawn at the largest size, NaN as 0
            finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=1e6, neginf=-1e6)
            return np.round(finite, 4).tolist()

        return [{"weight": shown(m.weight.detach().numpy()), "bias": shown(m.bias.detach().numpy())}
                for m in self.model if isinstance(m, nn.Linear)]

    def set_parameter(self, layer: int, neuron: int, source: int | None, value: float) -> None:
        """Set one weight (``source``: the neuron of the layer before) or a bias (``source`` None)."""
        with self.lock:
            linears = [m for m in self.model if isinstance(m, nn.Linear)]
            if not 0 <= layer < len(linears):
                raise DataError(f"layer must be 0 to {len(linears) - 1} (the weight layers), got {layer}")
            target = linears[layer]
            if not 0 <= neuron < target.out_features:
                raise DataError(f"neuron must be 0 to {target.out_features - 1} in layer {layer}, got {neuron}")
            if source is not None and not 0 <= source < target.in_features:
                raise DataError(f"source must be 0 to {target.in_features - 1} in layer {layer}, got {source}")
            if not np.isfinite(value) or abs(value) > 100:
                raise DataError(f"a weight must be a finite number between -100 and 100, got {value}")
            with shenjing.no_grad():
                if source is None:
                    target.bias[neuron] = value
                else:
                    target.weight[neuron, source] = value
            self.history.append((self.epoch, *self.losses()))

    def snapshot(self, data_version: int | None = None) -> dict[str, Any]:
        """Everything the page draws, as JSON-ready values (the points only when ``data_version`` is old)."""
        with self.lock:
            train_loss, test_loss = self.history[-1][1:]
            history = self.history
            if len(history) > MAX_HISTORY:
                picks = np.linspace(0, len(history) - 1, MAX_HISTORY).round().astype(int)
                history = [history[i] for i in picks]
            state = {"version": self.version, "dataVersion": self.data_version, "epoch": self.epoch,
                     "trainLoss": _finite(train_loss), "testLoss": _finite(test_loss),
                     "trainAccuracy": self.accuracy("train"), "testAccuracy": self.accuracy("test"),
                     "history": [[e, _finite(a), _finite(b)] for e, a, b in history],
                     "settings": self.settings.to_dict(), "features": self.settings.features(),
                     "classCount": self.settings.class_count(), "output": self.output_image(),
                     "neurons": self.neuron_images(), "classImages": self.class_images(),
                     "weights": self.weights(), "warning": self.diverged}
            if data_version != self.data_version:
                state["train"] = _points(self.train_points, self.train_labels)
                state["test"] = _points(self.test_points, self.test_labels)
            return state


def _finite(value: float) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None


def _points(points: np.ndarray, labels: np.ndarray) -> list[list[float]]:
    return np.round(np.concatenate([points, labels[:, None]], axis=1), 4).tolist()
