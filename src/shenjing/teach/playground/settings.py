"""The playground's settings: what the page's controls and URL hash hold, checked.

The names are the TensorFlow Playground's URL parameters where it has them (``activation``,
``learningRate``, ``regularization``, ``regularizationRate``, ``problem``, ``dataset``, ``regDataset``,
``networkShape``, ``batchSize``, ``noise``, ``percTrainData``, ``seed`` and the feature flags ``x``,
``y``, ``xSquared``, ``ySquared``, ``xTimesY``, ``sinX``, ``sinY``), plus what it lacks: ``optimizer``,
``classes``, ``layerActivations`` and ``dropout`` (one per hidden layer).

>>> s = Settings.from_dict({"dataset": "xor", "networkShape": "4,2", "activation": "relu"})
>>> s.networkShape, s.hidden_activations(), s.features()
([4, 2], ['relu', 'relu'], ['x', 'y'])
>>> Settings.from_dict({"networkShape": "4,99"})
Traceback (most recent call last):
...
shenjing.teach.playground.settings.SettingsError: networkShape: at most 16 neurons in a layer, got 99
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from shenjing.teach.playground.data import CLASSIFICATION, FEATURES, MAX_CLASSES, MULTICLASS, REGRESSION

__all__ = ["Settings", "SettingsError", "ACTIVATIONS", "OPTIMIZERS", "MAX_LAYERS", "MAX_NEURONS"]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
OPTIMIZERS = ("sgd", "momentum", "adam")
REGULARIZATIONS = ("none", "L1", "L2")
MAX_LAYERS = 8
MAX_NEURONS = 16
"""The largest network that stays responsive on a laptop core: 8 hidden layers of 16 neurons."""

MAX_BATCH = 100
SAMPLES = 500


class SettingsError(ValueError):
    """A setting out of its range or of the wrong kind, named with what it accepts."""


@dataclass
class Settings:
    """Everything that defines a playground run (data, network, training); reset when any changes."""

    problem: str = "classification"
    dataset: str = "circle"
    regDataset: str = "reg-plane"
    classes: int = 2
    noise: int = 0
    percTrainData: int = 50
    batchSize: int = 10
    learningRate: float = 0.03
    activation: str = "tanh"
    layerActivations: list[str] = field(default_factory=list)
    dropout: list[float] = field(default_factory=list)
    networkShape: list[int] = field(default_factory=lambda: [4, 2])
    regularization: str = "none"
    regularizationRate: float = 0.0
    optimizer: str = "sgd"
    seed: int = 1
    x: bool = True
    y: bool = True
    xSquared: bool = False
    ySquared: bool = False
    xTimesY: bool = False
    sinX: bool = False
    sinY: bool = False

    # -- reading --------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, given: Mapping[str, Any]) -> "Settings":
        """Settings from a dict of values or of URL-hash strings; keys not named here are ignored
        (the page keeps display flags such as ``showTestData`` to itself)."""
        s = cls()
        known = {f.name for f in fields(cls)}
        for key, value in given.items():
            if key in known:
                setattr(s, key, value)
        s.problem = _choice("problem", s.problem, ("classification", "regression"))
        s.dataset = _choice("dataset", s.dataset, CLASSIFICATION + ("csv", "custom"))
        s.regDataset = _choice("regDataset", s.regDataset, REGRESSION + ("csv", "custom"))
        s.classes = _whole("classes", s.classes, 2, MAX_CLASSES)
        if s.problem == "classification" and s.dataset in CLASSIFICATION and s.dataset not in MULTICLASS \
                and s.classes != 2:
            raise SettingsError(f"classes: the {s.dataset} data set has 2 classes; {' and '.join(MULTICLASS)} "
                                f"take more")
        s.noise = _whole("noise", s.noise, 0, 50)
        s.percTrainData = _whole("percTrainData", s.percTrainData, 10, 90)
        s.batchSize = _whole("batchSize", s.batchSize, 1, MAX_BATCH)
        s.learningRate = _number("learningRate", s.learningRate, 0, 10, open_low=True)
        s.activation = _choice("activation", s.activation, ACTIVATIONS)
        s.networkShape = _whole_list("networkShape", s.networkShape)
        s.layerActivations = [_choice("layerActivations", a, ACTIVATIONS) for a in _text_list(s.layerActivations)]
        s.dropout = [_number("dropout", d, 0, 0.9) for d in _text_list(s.dropout)]
        for name in ("layerActivations", "dropout"):
            if len(getattr(s, name)) > len(s.networkShape):
                raise SettingsError(f"{name}: one value per hidden layer ({len(s.networkShape)}), got "
                                    f"{len(getattr(s, name))}")
        s.regularization = _choice("regularization", "none" if s.regularization in (None, "") else s.regularization,
                                   REGULARIZATIONS)
        s.regularizationRate = _number("regularizationRate", s.regularizationRate, 0, 10)
        s.optimizer = _choice("optimizer", s.optimizer, OPTIMIZERS)
        s.seed = _whole("seed", s.seed, 0, 2 ** 32 - 1)
        for name in FEATURES:
            setattr(s, name, _flag(name, getattr(s, name)))
        if not s.features():
            raise SettingsError("no input feature is on; turn on at least one (x, y, xSquared, ...)")
        return s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # -- what they mean -------------------------------------------------------------------------

    def features(self) -> list[str]:
        """The input features that are on, in the page's order."""
        return [name for name in FEATURES if getattr(self, name)]

    def data_name(self) -> str:
        return self.dataset if self.problem == "classification" else self.regDataset

    def class_count(self) -> int:
        """Classes of the output (1 output unit for regression and for two classes)."""
        if self.problem == "regression":
            return 0
        return self.classes

    def hidden_activations(self) -> list[str]:
        """The activation of each hidden layer (``layerActivations``, else ``activation``)."""
        given = self.layerActivations
        return [given[i] if i < len(given) else self.activation for i in range(len(self.networkShape))]

    def hidden_dropout(self) -> list[float]:
        return [self.dropout[i] if i < len(self.dropout) else 0.0 for i in range(len(self.networkShape))]


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SettingsError(f"{name}: expected one of {', '.join(allowed)}, got '{value}'")
    return value


def _whole(name: str, value: Any, low: int, high: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: expected a whole number from {low} to {high}, got '{value}'") from None
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise SettingsError(f"{name}: expected a whole number from {low} to {high}, got {value}")
    return int(number)


def _number(name: str, value: Any, low: float, high: float, open_low: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: expected a number, got '{value}'") from None
    if not math.isfinite(number) or number > high or number < low or (open_low and number == low):
        bound = "above" if open_low else "from"
        raise SettingsError(f"{name}: expected a number {bound} {low:g} up to {high:g}, got {value}")
    return number


def _text_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise SettingsError(f"expected a list or comma-separated values, got {value!r}")


def _whole_list(name: str, value: Any) -> list[int]:
    layers = [_whole(name, v, 1, 10 ** 9) for v in _text_list(value)]
    if len(layers) > MAX_LAYERS:
        raise SettingsError(f"{name}: at most {MAX_LAYERS} hidden layers, got {len(layers)}")
    for width in layers:
        if width > MAX_NEURONS:
            raise SettingsError(f"{name}: at most {MAX_NEURONS} neurons in a layer, got {width}")
    return layers


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "1", 1):
        return True
    if value in ("false", "0", 0, ""):
        return False
    raise SettingsError(f"{name}: expected true or false, got '{value}'")
