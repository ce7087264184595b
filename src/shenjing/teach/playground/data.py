"""The playground's data: the 2-D data sets, the input features computed from a point, and CSV files.

Every point lies on the plane [-6, 6] x [-6, 6]. Classification labels are class numbers 0, 1, ...
(with two classes, 1 is drawn blue and 0 orange, as on the TensorFlow Playground); regression labels
are numbers in [-1, 1].

>>> points, labels = make_dataset("xor", 8, noise=0, seed=1)
>>> points.shape, sorted(set(labels.tolist()))
((8, 2), [0.0, 1.0])
>>> feature_matrix(np.array([[1.0, 2.0]]), ["x", "y", "xTimesY"]).tolist()
[[1.0, 2.0, 2.0]]
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np

__all__ = ["EXTENT", "FEATURES", "FEATURE_LABELS", "CLASSIFICATION", "REGRESSION", "MULTICLASS", "MAX_CLASSES",
           "MAX_POINTS", "DataError", "make_dataset", "split", "feature_matrix", "parse_csv"]

EXTENT = 6.0
"""The plane shown on the page: [-EXTENT, EXTENT] in both directions."""

FEATURES = ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY")
"""The input features, by the TensorFlow Playground's URL names."""

FEATURE_LABELS = {"x": "X₁", "y": "X₂", "xSquared": "X₁²", "ySquared": "X₂²", "xTimesY": "X₁X₂",
                  "sinX": "sin(X₁)", "sinY": "sin(X₂)"}

CLASSIFICATION = ("circle", "xor", "gauss", "spiral", "blobs")
REGRESSION = ("reg-plane", "reg-gauss")
MULTICLASS = ("spiral", "blobs")
"""The data sets that take a number of classes (``classes`` above 2)."""

MAX_CLASSES = 6
MAX_POINTS = 5000
"""The most points a data set (generated, uploaded or clicked) may hold."""


class DataError(ValueError):
    """Data the playground cannot use (a malformed CSV line, too many points), with what was expected."""


def _circle(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    radius = 5.0
    inner = n // 2
    r = np.concatenate([rng.uniform(0, 0.5 * radius, inner), rng.uniform(0.7 * radius, radius, n - inner)])
    angle = rng.uniform(0, 2 * math.pi, n)
    points = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    labels = (np.hypot(points[:, 0], points[:, 1]) < 0.5 * radius).astype(np.float64)  # before the noise
    return points + rng.uniform(-radius, radius, (n, 2)) * noise, labels


def _xor(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    points = rng.uniform(-5, 5, (n, 2))
    points += np.where(points > 0, 0.3, -0.3)  # keep a gap around the axes
    labels = (points[:, 0] * points[:, 1] > 0).astype(np.float64)
    return points + rng.uniform(-5, 5, (n, 2)) * noise, labels


def _blob_centres(classes: int, radius: float) -> np.ndarray:
    angles = 2 * math.pi * np.arange(classes) / classes + math.pi / 4
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _gauss(rng: np.random.Generator, n: int, noise: float, classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    if classes == 2:
        centres = np.array([[-2.0, -2.0], [2.0, 2.0]])
    else:
        centres = _blob_centres(classes, 3.0)
    labels = np.arange(n) % classes
    spread = 0.5 + 3.0 * noise
    points = centres[labels] + rng.normal(0, spread, (n, 2))
    return points, labels.astype(np.float64)


def _spiral(rng: np.random.Generator, n: int, noise: float, classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(n) % classes
    t = rng.uniform(0, 1, n)
    r = 5.0 * t
    angle = 1.75 * 2 * math.pi * t + 2 * math.pi * labels / classes
    points = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    return points + rng.uniform(-1, 1, (n, 2)) * noise * 5 * 0.4, labels.astype(np.float64)


def _reg_plane(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    points = rng.uniform(-5, 5, (n, 2))
    labels = (points[:, 0] + points[:, 1]) / 10  # in [-1, 1]
    return points, np.clip(labels + rng.uniform(-1, 1, n) * noise, -1, 1)


def _reg_gauss(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    bumps = [(-4.0, 2.5, 1.0), (0.0, 2.5, -1.0), (4.0, 2.5, 1.0), (-4.0, -2.5, -1.0), (0.0, -2.5, 1.0),
             (4.0, -2.5, -1.0)]
    points = rng.uniform(-5, 5, (n, 2))
    labels = np.zeros(n)
    for cx, cy, sign in bumps:
        labels += sign * np.exp(-((points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2) / 2.0)
    return points, np.clip(labels + rng.uniform(-1, 1, n) * noise, -1, 1)


def make_dataset(name: str, n: int, noise: float = 0.0, seed: int = 0,
                 classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of data set ``name`` (``CLASSIFICATION`` or ``REGRESSION``) with ``noise`` in [0, 0.5]:
    (points (n, 2), labels (n,)), repeatable for a ``seed``."""
    if not 0 <= noise <= 0.5:
        raise DataError(f"noise must be between 0 and 0.5 (0 to 50%), got {noise}")
    if not 1 <= n <= MAX_POINTS:
        raise DataError(f"a data set holds 1 to {MAX_POINTS} points, asked for {n}")
    if name in MULTICLASS:
        if not 2 <= classes <= MAX_CLASSES:
            raise DataError(f"classes must be between 2 and {MAX_CLASSES}, got {classes}")
    elif classes != 2 and name in CLASSIFICATION:
        raise DataError(f"the {name} data set has 2 classes; more classes: {', '.join(MULTICLASS)}")
    rng = np.random.default_rng(seed)
    makers = {"circle": _circle, "xor": _xor, "reg-plane": _reg_plane, "reg-gauss": _reg_gauss}
    if name in makers:
        points, labels = makers[name](rng, n, noise)
    elif name == "gauss":
        points, labels = _gauss(rng, n, noise, 2)
    elif name == "blobs":
        points, labels = _gauss(rng, n, noise, classes)
    elif name == "spiral":
        points, labels = _spiral(rng, n, noise, classes)
    else:
        raise DataError(f"unknown data set '{name}'; choose one of: {', '.join(CLASSIFICATION + REGRESSION)}")
    order = rng.permutation(n)
    return np.clip(points[order], -EXTENT, EXTENT), labels[order]


def split(points: np.ndarray, labels: np.ndarray, train_percent: float) -> tuple[np.ndarray, ...]:
    """(train points, train labels, test points, test labels): the first ``train_percent`` % for training
    (at least one point when there is any)."""
    count = len(points)
    n_train = min(count, max(1 if count else 0, int(round(count * train_percent / 100))))
    return points[:n_train], labels[:n_train], points[n_train:], labels[n_train:]


def feature_matrix(points: np.ndarray, features: list[str] | tuple[str, ...]) -> np.ndarray:
    """The chosen input features of each point, (n, 2) -> (n, len(features)), in ``features``' order."""
    x, y = points[:, 0], points[:, 1]
    columns = {"x": lambda: x, "y": lambda: y, "xSquared": lambda: x * x, "ySquared": lambda: y * y,
               "xTimesY": lambda: x * y, "sinX": lambda: np.sin(x), "sinY": lambda: np.sin(y)}
    unknown = [f for f in features if f not in columns]
    if unknown:
        raise DataError(f"unknown input feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    return np.stack([columns[f]() for f in features], axis=1) if features else np.zeros((len(points), 0))


def _number(text: str, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"line {line}: {column} is '{text}', not a number") from None
    if not math.isfinite(value):
        raise DataError(f"line {line}: {column} is {text}; it must be a finite number")
    return value


def parse_csv(text: str, problem: str = "classification", limit: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Points from CSV text with the columns ``x1,x2,label`` (an optional header line of words first).

    Classification labels are whole numbers 0 to MAX_CLASSES - 1 (or -1/1, read as 0/1); regression
    labels are numbers in [-1, 1]. Coordinates must lie on the plane [-6, 6]. A mistake raises
    ``DataError`` naming its line.

    >>> points, labels = parse_csv("x1,x2,label\\n1,2,1\\n-1,0.5,0\\n")
    >>> points.tolist(), labels.tolist()
    ([[1.0, 2.0], [-1.0, 0.5]], [1.0, 0.0])
    >>> parse_csv("1,2\\n")
    Traceback (most recent call last):
    ...
    shenjing.teach.playground.data.DataError: line 1: expected 3 values (x1,x2,label), found 2
    """
    rows = list(csv.reader(io.StringIO(text)))
    points, labels = [], []
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and not points and all(_is_word(c) for c in cells):
            continue  # a header
        if len(cells) != 3:
            raise DataError(f"line {number}: expected 3 values (x1,x2,label), found {len(cells)}")
        x1, x2 = _number(cells[0], number, "x1"), _number(cells[1], number, "x2")
        label = _number(cells[2], number, "label")
        for name, value in (("x1", x1), ("x2", x2)):
            if abs(value) > EXTENT:
                raise DataError(f"line {number}: {name} = {value:g} is off the plane; coordinates must lie "
                                f"between -{EXTENT:g} and {EXTENT:g}")
        if problem == "classification":
            if label == -1:
                label = 0.0
            if label != int(label) or not 0 <= label < MAX_CLASSES:
                raise DataError(f"line {number}: the label {cells[2]} is not a class; classes are whole numbers "
                                f"0 to {MAX_CLASSES - 1} (or -1 and 1 for two classes)")
        elif not -1 <= label <= 1:
            raise DataError(f"line {number}: the regression label {cells[2]} must lie between -1 and 1")
        points.append((x1, x2))
        labels.append(label)
        if len(points) > limit:
            raise DataError(f"too many points: at most {limit} rows of data (line {number} is one more)")
    if not points:
        raise DataError("the CSV holds no data rows; expected lines of x1,x2,label")
    return np.array(points, dtype=np.float64), np.array(labels, dtype=np.float64)


def _is_word(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return True
    return False
