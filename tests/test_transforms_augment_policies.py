"""AutoAugment, RandAugment, TrivialAugmentWide, AugMix, RandomPerspective, ElasticTransform and the functional
perspective / elastic_transform: torchvision's documented maths (magnitudes and perspective coefficients
computed with torch), the tensor path against pillow's, repeatability under manual_seed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

import shenjing
from shenjing.vision import transforms as T
from shenjing.vision.transforms import functional as F

RNG = np.random.default_rng(3)
RGB = RNG.integers(0, 256, (3, 18, 22), dtype=np.uint8)
GREY = RNG.integers(0, 256, (17, 23), dtype=np.uint8)


def torch_perspective_coefficients(start, end):
    """The documented system: each end point (x, y) maps to its start point (u, v) through
    ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1)); least squares in float64."""
    rows = []
    for (x, y), (u, v) in zip(end, start):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
    A = torch.tensor(rows, dtype=torch.float64)
    b = torch.tensor(start, dtype=torch.float64).view(8)
    return torch.linalg.lstsq(A, b).solution.to(torch.float32).tolist()


START = [[0, 0], [21, 0], [21, 17], [0, 17]]
ENDS = [[[2, 1], [19, 3], [20, 15], [1, 16]], [[0, 0], [21, 0], [21, 17], [0, 17]],
        [[5, 4], [21, 0], [16, 12], [0, 17]]]


@pytest.mark.parametrize("end", ENDS)
def test_perspective_coefficients_and_pillow_agreement(end):
    from shenjing.vision.transforms import _array

    np.testing.assert_allclose(_array.perspective_coefficients(START, end), torch_perspective_coefficients(START, end),
                               rtol=1e-6, atol=1e-6)
    pil = np.array(F.perspective(Image.fromarray(GREY[:18, :22]), START, end, "nearest"))
    tensor = F.perspective(shenjing.tensor(GREY[None, :18, :22]), START, end, "nearest").numpy()[0]
    assert np.mean(pil == tensor) > 0.98
    pil = np.array(F.perspective(Image.fromarray(RGB.transpose(1, 2, 0)), START, end, "bilinear", fill=(9, 99, 199)))
    tensor = F.perspective(shenjing.tensor(RGB), START, end, "bilinear", fill=[9, 99, 199]).numpy()
    assert np.mean(np.abs(pil.transpose(2, 0, 1).astype(int) - tensor) <= 1) > 0.97


def test_identity_perspective_and_random_perspective_params():
    image = shenjing.tensor(RGB)
    assert F.perspective(image, START, START, "nearest").tolist() == image.tolist()
    shenjing.manual_seed(2)
    for _ in range(50):
        start, end = T.RandomPerspective.get_params(22, 18, 0.5)
        assert start == START
        (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = end
        assert 0 <= tlx <= 5 and 0 <= tly <= 4 and 22 - 5 - 1 <= trx <= 21 and 0 <= try_ <= 4
        assert 16 <= brx <= 21 and 18 - 4 - 1 <= bry <= 17 and 0 <= blx <= 5 and 13 <= bly <= 17
    shenjing.manual_seed(4)
    first = T.RandomPerspective(p=1.0)(image)
    shenjing.manual_seed(4)
    assert T.RandomPerspective(p=1.0)(image).tolist() == first.tolist()
    assert T.RandomPerspective(p=0.0)(image) is image
    assert T.RandomPerspective(p=1.0)(Image.fromarray(GREY)).size == (23, 17)


def test_elastic_transform_displacement_semantics():
    image = shenjing.tensor(RGB.astype(np.float32))
    zero = shenjing.zeros(1, 18, 22, 2)
    np.testing.assert_allclose(F.elastic_transform(image, zero).numpy(), RGB, atol=1e-4)
    one_pixel_right = np.zeros((1, 18, 22, 2), np.float32)
    one_pixel_right[..., 0] = 2.0 / 22  # a pixel is 2 / W in grid units: output column j reads input j + 1
    moved = F.elastic_transform(image, shenjing.tensor(one_pixel_right), "nearest").numpy()
    np.testing.assert_array_equal(moved[:, :, :-1], RGB[:, :, 1:])
    assert (moved[:, :, -1] == 0).all()
    pil = F.elastic_transform(Image.fromarray(GREY), shenjing.zeros(1, 17, 23, 2), "nearest")
    np.testing.assert_array_equal(np.array(pil), GREY)
    with pytest.raises(ValueError, match="displacement should be of shape"):
        F.elastic_transform(image, shenjing.zeros(1, 5, 5, 2))


def test_elastic_transform_params_as_torchvision():
    shenjing.manual_seed(0)
    field = T.ElasticTransform.get_params([50.0, 30.0], [0.0, 0.0], [18, 22])
    assert tuple(field.shape) == (1, 18, 22, 2)
    values = field.numpy()
    assert np.abs(values[..., 0]).max() <= 50.0 / 18 and np.abs(values[..., 1]).max() <= 30.0 / 22
    smooth = T.ElasticTransform.get_params([50.0, 50.0], [3.0, 3.0], [18, 22]).numpy()
    assert np.abs(np.diff(smooth[0, :, :, 0], axis=1)).mean() < np.abs(np.diff(values[0, :, :, 0], axis=1)).mean()
    out = T.ElasticTransform(alpha=20.0, sigma=2.0)(shenjing.tensor(RGB))
    assert out.dtype == shenjing.uint8 and tuple(out.shape) == RGB.shape
    assert T.ElasticTransform(alpha=[1.0], sigma=[2.0, 3.0]).alpha == [1.0, 1.0]


def candidates(image, magnitudes, names, fill=None):
    """Every output torchvision's _apply_op can give for these operations at these magnitudes."""
    outputs = [image]
    for name in names:
        m = magnitudes[name]
        for signed in (m, -m):
            if name == "ShearX":
                outputs.append(F.affine(image, 0.0, [0, 0], 1.0, [math.degrees(math.atan(signed)), 0.0], "nearest",
                                        fill, center=[0, 0]))
            elif name == "ShearY":
                outputs.append(F.affine(image, 0.0, [0, 0], 1.0, [0.0, math.degrees(math.atan(signed))], "nearest",
                                        fill, center=[0, 0]))
            elif name == "TranslateX":
                outputs.append(F.affine(image, 0.0, [int(signed), 0], 1.0, [0.0, 0.0], "nearest", fill))
            elif name == "TranslateY":
                outputs.append(F.affine(image, 0.0, [0, int(signed)], 1.0, [0.0, 0.0], "nearest", fill))
            elif name == "Rotate":
                outputs.append(F.rotate(image, signed, "nearest", fill=fill))
            elif name == "Brightness":
                outputs.append(F.adjust_brightness(image, 1.0 + signed))
            elif name == "Color":
                outputs.append(F.adjust_saturation(image, 1.0 + signed))
            elif name == "Contrast":
                outputs.append(F.adjust_contrast(image, 1.0 + signed))
            elif name == "Sharpness":
                outputs.append(F.adjust_sharpness(image, 1.0 + signed))
        if name == "Posterize":
            outputs.append(F.posterize(image, int(m)))
        if name == "Solarize":
            outputs.append(F.solarize(image, m))
    outputs += [F.autocontrast(image), F.equalize(image)]
    return [o.numpy() for o in outputs]


@pytest.mark.parametrize("magnitude,bins", [(9, 31), (4, 10), (30, 31)])
def test_rand_augment_applies_torchvision_magnitudes(magnitude, bins):
    height, width = RGB.shape[1:]
    linspace = lambda end: float(torch.linspace(0.0, end, bins)[magnitude])  # noqa: E731
    magnitudes = {"ShearX": linspace(0.3), "ShearY": linspace(0.3), "TranslateX": linspace(150 / 331 * width),
                  "TranslateY": linspace(150 / 331 * height), "Rotate": linspace(30.0), "Brightness": linspace(0.9),
                  "Color": linspace(0.9), "Contrast": linspace(0.9), "Sharpness": linspace(0.9),
                  "Posterize": int((8 - (torch.arange(bins) / ((bins - 1) / 4)).round().int())[magnitude]),
                  "Solarize": float(torch.linspace(255.0, 0.0, bins)[magnitude])}
    image = shenjing.tensor(RGB)
    allowed = candidates(image, magnitudes, list(magnitudes))
    shenjing.manual_seed(1)
    seen = set()
    for _ in range(60):
        out = T.RandAugment(num_ops=1, magnitude=magnitude, num_magnitude_bins=bins)(image).numpy()
        # within 1: torch.linspace's vectorised steps may differ from shenjing.linspace by one float32 ulp
        matches = [i for i, c in enumerate(allowed)
                   if c.shape == out.shape and np.abs(c.astype(int) - out).max() <= 1]
        assert matches, "RandAugment produced an image no torchvision operation gives"
        seen.add(matches[0])
    assert len(seen) > 8


def test_trivial_augment_and_auto_augment_stay_in_their_spaces_and_repeat():
    image = shenjing.tensor(RGB)
    for transform in (T.TrivialAugmentWide(), T.AutoAugment(), T.AutoAugment(T.AutoAugmentPolicy.CIFAR10),
                      T.AutoAugment(T.AutoAugmentPolicy.SVHN), T.RandAugment(), T.AugMix()):
        shenjing.manual_seed(7)
        first = [transform(image).numpy() for _ in range(5)]
        shenjing.manual_seed(7)
        again = [transform(image).numpy() for _ in range(5)]
        assert all(np.array_equal(a, b) for a, b in zip(first, again))
        assert all(a.dtype == np.uint8 and a.shape == RGB.shape for a in first)
        pil = transform(Image.fromarray(RGB.transpose(1, 2, 0)))
        assert pil.size == (22, 18) and pil.mode == "RGB"
    batch = shenjing.tensor(np.stack([RGB, RGB[::-1]]))
    assert tuple(T.AugMix()(batch).shape) == (2, 3, 18, 22)
    assert tuple(T.TrivialAugmentWide()(batch).shape) == (2, 3, 18, 22)


def test_auto_augment_params_and_errors():
    shenjing.manual_seed(0)
    for _ in range(20):
        index, probs, signs = T.AutoAugment.get_params(25)
        assert 0 <= index < 25 and ((0 <= probs.numpy()) & (probs.numpy() < 1)).all()
        assert set(signs.tolist()) <= {0, 1}
    with pytest.raises(ValueError, match="policy"):
        T.AutoAugment("imagenet")
    with pytest.raises(ValueError, match=r"severity must be between \[1, 10\]"):
        T.AugMix(severity=11)
    assert repr(T.AutoAugment()) == "AutoAugment(policy=AutoAugmentPolicy.IMAGENET, fill=None)"
    assert len(T.AutoAugment().policies) == len(T.AutoAugment(T.AutoAugmentPolicy.SVHN).policies) == 25


def test_aug_mix_is_a_convex_mix_of_augmented_images():
    constant = shenjing.full((3, 12, 12), 120, dtype=shenjing.uint8)
    shenjing.manual_seed(3)
    for _ in range(10):
        out = T.AugMix(all_ops=False)(constant).numpy()
        assert out.dtype == np.uint8 and out.min() >= 0 and out.max() <= 255
    # a chain of one equalize-like op on a constant image keeps every pixel within the ops' reach
    float_mix = T.AugMix(mixture_width=1, chain_depth=1, severity=1)
    assert float_mix.severity == 1
