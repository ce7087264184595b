"""Small datasets from the course, each returned as ``(inputs, targets)`` tensors.

Wrap them in ``shenjing.utils.data.TensorDataset`` to use a DataLoader. Generators take a ``seed``
so the same call gives the same data every time.
"""

from __future__ import annotations

import math

import numpy as np

from shenjing._tensor import Tensor

__all__ = ["LOGIC_GATES", "logic_gate", "xo_images", "watermelon", "make_moons", "make_circles", "make_spirals",
           "make_blobs", "house_prices"]

_INPUTS_2 = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
LOGIC_GATES = {
    "and": (_INPUTS_2, [0.0, 0.0, 0.0, 1.0]),
    "or": (_INPUTS_2, [0.0, 1.0, 1.0, 1.0]),
    "xor": (_INPUTS_2, [0.0, 1.0, 1.0, 0.0]),
    "nand": (_INPUTS_2, [1.0, 1.0, 1.0, 0.0]),
    "not": ([[0.0], [1.0]], [1.0, 0.0]),
}


def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[Tensor, Tensor]:
    return Tensor._make(np.ascontiguousarray(x)), Tensor._make(np.ascontiguousarray(y))


def logic_gate(name: str) -> tuple[Tensor, Tensor]:
    """The truth table of AND, OR, NOT, NAND or XOR: inputs (n, 2) or (2, 1) of 0/1, targets (n,) of 0/1.

    >>> x, y = logic_gate("and")
    >>> y.tolist()
    [0.0, 0.0, 0.0, 1.0]
    """
    key = name.lower()
    if key not in LOGIC_GATES:
        raise ValueError(f"unknown logic gate '{name}'; expected one of {', '.join(LOGIC_GATES)}")
    inputs, targets = LOGIC_GATES[key]
    return _tensors(np.array(inputs, np.float32), np.array(targets, np.float32))


# -- X versus O (seed 003) -------------------------------------------------------------------------

def _draw_x(size: int, thickness: int) -> np.ndarray:
    canvas = np.zeros((size, size), bool)
    for i in range(size):
        for t in range(thickness):
            j = min(i + t, size - 1)
            canvas[i, j] = canvas[i, size - 1 - j] = True
    return canvas


def _draw_o(size: int, thickness: int) -> np.ndarray:
    centre = (size - 1) / 2
    rows, cols = np.mgrid[0:size, 0:size]
    distance = np.sqrt((rows - centre) ** 2 + (cols - centre) ** 2)
    radius = centre
    return (distance <= radius + 0.5) & (distance > radius + 0.5 - thickness - 0.3)


def xo_images(n: int = 200, size: int = 9, noise: float = 0.05, max_shift: int = 1,
              thickness: tuple[int, int] = (1, 2), seed: int = 0) -> tuple[Tensor, Tensor]:
    """Images of the letters X (label 0) and O (label 1) as in seed 003: ``size`` x ``size`` pixels of
    +1 (ink) on -1 (paper), drawn size-4 or size-2 pixels wide, shifted by up to ``max_shift`` pixels, with a
    random stroke ``thickness`` and a fraction ``noise`` of pixels flipped.

    Returns images (n, 1, size, size) float32 and labels (n,) int64, half of each class.
    """
    if size < 7:
        raise ValueError(f"size must be at least 7 to draw the letters, got {size}")
    rng = np.random.default_rng(seed)
    images = -np.ones((n, 1, size, size), np.float32)
    labels = np.arange(n) % 2
    for k in range(n):
        letter = int(rng.choice(np.arange(size - 4, size - 1, 2)))  # width: same parity as size, so it centres
        stroke = int(rng.integers(thickness[0], thickness[1] + 1))
        shape = _draw_x(letter, stroke) if labels[k] == 0 else _draw_o(letter, stroke)
        margin = (size - letter) // 2
        top = int(np.clip(margin + rng.integers(-max_shift, max_shift + 1), 0, size - letter))
        left = int(np.clip(margin + rng.integers(-max_shift, max_shift + 1), 0, size - letter))
        images[k, 0, top:top + letter, left:left + letter][shape] = 1.0
        flips = rng.random((size, size)) < noise
        images[k, 0][flips] *= -1
    return _tensors(images, labels.astype(np.int64))


# -- the watermelon data set 3.0α ------------------------------------------------------------------

_WATERMELON = [  # density, sugar content, good melon (1) or not (0): Zhou Zhihua, Machine Learning, table 4.5
    (0.697, 0.460, 1), (0.774, 0.376, 1), (0.634, 0.264, 1), (0.608, 0.318, 1), (0.556, 0.215, 1),
    (0.403, 0.237, 1), (0.481, 0.149, 1), (0.437, 0.211, 1), (0.666, 0.091, 0), (0.243, 0.267, 0),
    (0.245, 0.057, 0), (0.343, 0.099, 0), (0.639, 0.161, 0), (0.657, 0.198, 0), (0.360, 0.370, 0),
    (0.593, 0.042, 0), (0.719, 0.103, 0),
]


def watermelon() -> tuple[Tensor, Tensor]:
    """The 17 melons of the watermelon data set 3.0α: inputs (17, 2) = (density, sugar content),
    targets (17,) float32, 1 for a good melon. The Chinese machine-learning course's running example."""
    table = np.array(_WATERMELON, np.float32)
    return _tensors(table[:, :2], table[:, 2])


# -- 2-D toy sets for decision boundaries ----------------------------------------------------------

def make_moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles: inputs (n, 2), labels (n,) int64 in {0, 1}."""
    rng = np.random.default_rng(seed)
    upper = n // 2
    angles_a = np.linspace(0, math.pi, upper)
    angles_b = np.linspace(0, math.pi, n - upper)
    points = np.concatenate([np.stack([np.cos(angles_a), np.sin(angles_a)], 1),
                             np.stack([1 - np.cos(angles_b), 0.5 - np.sin(angles_b)], 1)])
    points += rng.normal(0, noise, points.shape)
    labels = np.concatenate([np.zeros(upper), np.ones(n - upper)]).astype(np.int64)
    return _shuffled(points, labels, rng)


def make_circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A circle inside a larger circle (radius ratio ``factor``): labels 0 outer, 1 inner."""
    if not 0 < factor < 1:
        raise ValueError(f"factor must be between 0 and 1, got {factor}")
    rng = np.random.default_rng(seed)
    outer = n // 2
    angles_a = np.linspace(0, 2 * math.pi, outer, endpoint=False)
    angles_b = np.linspace(0, 2 * math.pi, n - outer, endpoint=False)
    points = np.concatenate([np.stack([np.cos(angles_a), np.sin(angles_a)], 1),
                             factor * np.stack([np.cos(angles_b), np.sin(angles_b)], 1)])
    points += rng.normal(0, noise, points.shape)
    labels = np.concatenate([np.zeros(outer), np.ones(n - outer)]).astype(np.int64)
    return _shuffled(points, labels, rng)


def make_spirals(n: int = 300, classes: int = 2, noise: float = 0.2, turns: float = 1.0,
                 seed: int = 0) -> tuple[Tensor, Tensor]:
    """``classes`` interleaved spiral arms (the CS231n example): inputs (n, 2), labels (n,) int64."""
    rng = np.random.default_rng(seed)
    per_class = n // classes
    points, labels = [], []
    for c in range(classes):
        radius = np.linspace(0.0, 1.0, per_class)
        theta = np.linspace(c * 2 * math.pi / classes, c * 2 * math.pi / classes + turns * 2 * math.pi, per_class)
        theta = theta + rng.normal(0, noise, per_class)
        points.append(np.stack([radius * np.sin(theta), radius * np.cos(theta)], 1))
        labels.append(np.full(per_class, c))
    return _shuffled(np.concatenate(points), np.concatenate(labels).astype(np.int64), rng)


def make_blobs(n: int = 200, centers: int = 3, std: float = 0.5, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Gaussian clusters around ``centers`` points placed evenly on a circle of radius 2."""
    rng = np.random.default_rng(seed)
    angles = np.arange(centers) * 2 * math.pi / centers
    means = 2 * np.stack([np.cos(angles), np.sin(angles)], 1)
    labels = np.arange(n) % centers
    points = means[labels] + rng.normal(0, std, (n, 2))
    return _shuffled(points, labels.astype(np.int64), rng)


def _shuffled(points: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
    order = rng.permutation(len(labels))
    return _tensors(points[order].astype(np.float32), labels[order])


# -- regression ------------------------------------------------------------------------------------

def house_prices(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Seed 001's first example, made concrete: house area (in 100 m², from 0.3 to 2.0) -> price (in
    millions). Prices follow a ReLU-shaped curve, zero below 0.5 and rising 1.5 per 100 m² above
    it, plus Gaussian noise, so one ReLU neuron can fit them. Synthetic data; inputs (n, 1), targets (n, 1).
    """
    rng = np.random.default_rng(seed)
    area = np.sort(rng.uniform(0.3, 2.0, n))
    price = np.maximum(0.0, 1.5 * (area - 0.5)) + rng.normal(0, noise, n)
    return _tensors(area[:, None].astype(np.float32), price[:, None].astype(np.float32))
