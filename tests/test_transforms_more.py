"""The colour, crop and choice transforms, checked against torchvision's documented formulas computed here by
hand (torchvision does not install beside this PyTorch build)."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

import shenjing as sj
from shenjing.vision import transforms as T
from shenjing.vision.transforms import functional as F

RNG = np.random.default_rng(4)


def image(dtype=np.float32, channels=3, size=(6, 7)):
    values = RNG.random((channels, *size))
    return sj.tensor((values * 255).astype(np.uint8) if dtype == np.uint8 else values.astype(dtype))


def gray(a):
    return 0.299 * a[0] + 0.587 * a[1] + 0.114 * a[2]


def test_brightness_contrast_saturation_blend_as_documented():
    x = image()
    a = x.numpy().astype(np.float64)
    np.testing.assert_allclose(F.adjust_brightness(x, 1.3).numpy(), np.clip(1.3 * a, 0, 1), rtol=1e-6)
    mean = gray(a).astype(np.float32).mean()
    np.testing.assert_allclose(F.adjust_contrast(x, 0.4).numpy(), np.clip(0.4 * a + 0.6 * mean, 0, 1), rtol=1e-5)
    np.testing.assert_allclose(F.adjust_saturation(x, 1.7).numpy(), np.clip(1.7 * a - 0.7 * gray(a), 0, 1),
                               rtol=1e-5, atol=1e-6)
    u = image(np.uint8)
    expected = np.trunc(np.clip(1.5 * u.numpy().astype(np.float64), 0, 255)).astype(np.uint8)
    np.testing.assert_array_equal(F.adjust_brightness(u, 1.5).numpy(), expected)
    with pytest.raises(ValueError, match="not non-negative"):
        F.adjust_brightness(x, -1)


def test_hue_turns_as_colorsys_does():
    x = image(np.float64)
    turned = F.adjust_hue(x, 0.25).numpy()
    a = x.numpy()
    for i in range(a.shape[1]):
        for j in range(a.shape[2]):
            h, s, v = colorsys.rgb_to_hsv(*a[:, i, j])
            np.testing.assert_allclose(turned[:, i, j], colorsys.hsv_to_rgb((h + 0.25) % 1.0, s, v), atol=1e-12)
    np.testing.assert_allclose(F.adjust_hue(x, 0.0).numpy(), a, atol=1e-12)
    with pytest.raises(ValueError, match="not in"):
        F.adjust_hue(x, 0.7)


def test_invert_solarize_posterize_autocontrast():
    u = image(np.uint8)
    a = u.numpy()
    np.testing.assert_array_equal(F.invert(u).numpy(), 255 - a)
    np.testing.assert_array_equal(F.solarize(u, 128).numpy(), np.where(a >= 128, 255 - a, a))
    np.testing.assert_array_equal(F.posterize(u, 3).numpy(), a & 0b11100000)
    stretched = F.autocontrast(u).numpy()
    for c in range(3):
        low, high = a[c].min(), a[c].max()
        np.testing.assert_array_equal(stretched[c], np.trunc((a[c] - low) * (255.0 / (high - low))).astype(np.uint8))
    flat = sj.full((1, 3, 3), 0.5)
    np.testing.assert_array_equal(F.autocontrast(flat).numpy(), flat.numpy())


def test_equalize_matches_pillows_imageops():
    """torchvision's tensor equalize follows PIL's ImageOps.equalize: the independent reference here."""
    pytest.importorskip("PIL")
    from PIL import Image, ImageOps
    for pixels in (np.repeat(np.arange(0, 64, dtype=np.uint8), 16).reshape(32, 32),
                   (RNG.random((20, 30)) ** 3 * 255).astype(np.uint8), np.arange(16, dtype=np.uint8).reshape(4, 4)):
        expected = np.asarray(ImageOps.equalize(Image.fromarray(pixels)))
        np.testing.assert_array_equal(F.equalize(sj.tensor(pixels[None])).numpy()[0], expected)


def test_gaussian_blur_matches_a_direct_convolution():
    x = image(np.float64, channels=1, size=(7, 8))
    out = F.gaussian_blur(x, [3, 5], [0.8, 1.2]).numpy()[0]
    def kernel(k, s):
        t = np.arange(k) - (k - 1) / 2
        w = np.exp(-0.5 * (t / s) ** 2)
        return w / w.sum()
    full = np.outer(kernel(5, 1.2), kernel(3, 0.8))  # rows (y, size 5) x columns (x, size 3)
    padded = np.pad(x.numpy()[0], ((2, 2), (1, 1)), mode="reflect")
    expected = np.array([[np.sum(full * padded[i:i + 5, j:j + 3]) for j in range(8)] for i in range(7)])
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="odd"):
        T.GaussianBlur(4)


def test_sharpness_blends_with_the_smoothed_image():
    x = image(np.float64, channels=1, size=(5, 5))
    a = x.numpy()[0]
    smooth = a.copy()
    k = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13
    for i in range(1, 4):
        for j in range(1, 4):
            smooth[i, j] = np.sum(k * a[i - 1:i + 2, j - 1:j + 2])
    np.testing.assert_allclose(F.adjust_sharpness(x, 2.0).numpy()[0], np.clip(2 * a - smooth, 0, 1), rtol=1e-12)


def test_color_jitter_stays_in_range_and_is_repeatable():
    x = image()
    jitter = T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    sj.manual_seed(3)
    first = jitter(x)
    sj.manual_seed(3)
    np.testing.assert_array_equal(jitter(x).numpy(), first.numpy())
    assert first.numpy().min() >= 0 and first.numpy().max() <= 1
    assert jitter.brightness == (0.6, 1.4) and jitter.hue == (-0.1, 0.1)
    assert T.ColorJitter().brightness is None
    with pytest.raises(ValueError):
        T.ColorJitter(hue=0.6)


def test_random_resized_crop_and_five_ten_crops():
    x = image(size=(32, 40))
    for _ in range(20):
        top, left, h, w = T.RandomResizedCrop.get_params(x, (0.08, 1.0), (3 / 4, 4 / 3))
        assert 0 <= top and top + h <= 32 and 0 <= left and left + w <= 40
    assert tuple(T.RandomResizedCrop((20, 24))(x).shape) == (3, 20, 24)
    crops = T.FiveCrop(10)(x)
    np.testing.assert_array_equal(crops[0].numpy(), x.numpy()[:, :10, :10])
    np.testing.assert_array_equal(crops[3].numpy(), x.numpy()[:, -10:, -10:])
    np.testing.assert_array_equal(crops[4].numpy(), x.numpy()[:, 11:21, 15:25])
    ten = T.TenCrop(10)(x)
    assert len(ten) == 10
    np.testing.assert_array_equal(ten[5].numpy(), x.numpy()[:, :10, ::-1][:, :, :10])


def test_random_erasing_sets_one_rectangle():
    x = sj.ones(3, 20, 20)
    sj.manual_seed(0)
    erased = T.RandomErasing(p=1.0, value=0)(x).numpy()
    zero = erased == 0
    rows, cols = np.nonzero(zero[0])
    assert zero.any() and np.array_equal(zero[0], zero[1])
    assert zero[0][rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    assert x.numpy().min() == 1  # not in place by default
    kept = T.RandomErasing(p=0.0)(x)
    assert kept is x
    with pytest.raises(TypeError, match="tensor images"):
        T.RandomErasing(p=1.0)(np.ones((3, 4, 4)))


def test_choices_and_probabilities():
    add_one, double = (lambda v: v + 1), (lambda v: v * 2)
    assert T.RandomApply([add_one, double], p=1.0)(3) == 8 and T.RandomApply([add_one], p=0.0)(3) == 3
    assert T.RandomChoice([add_one, double], p=[1.0, 0.0])(3) == 4
    assert T.RandomOrder([add_one, double])(3) in (7, 8)
    x = image()
    grey = T.RandomGrayscale(p=1.0)(x).numpy()
    np.testing.assert_allclose(grey[0], grey[2])
    assert T.RandomInvert(p=0.0)(x) is x


def test_convert_image_dtype_and_linear_transformation():
    u = sj.tensor(np.array([[[0, 128, 255]]], np.uint8))
    as_float = F.convert_image_dtype(u, sj.float32).numpy()
    np.testing.assert_allclose(as_float, [[[0, 128 / 255, 1]]], rtol=1e-7)
    back = T.ConvertImageDtype(sj.uint8)(sj.tensor(as_float)).numpy()
    np.testing.assert_array_equal(back, [[[0, 128, 255]]])
    x = image(np.float64, channels=1, size=(2, 2))
    m, mean = RNG.standard_normal((4, 4)), RNG.standard_normal(4)
    out = T.LinearTransformation(sj.tensor(m), sj.tensor(mean))(x).numpy()
    np.testing.assert_allclose(out.reshape(-1), (x.numpy().reshape(-1) - mean) @ m, rtol=1e-12)


def test_pil_images_go_through_the_same_kernels():
    pytest.importorskip("PIL")
    from PIL import Image
    u = image(np.uint8)
    pil = Image.fromarray(u.numpy().transpose(1, 2, 0))
    np.testing.assert_array_equal(np.asarray(F.invert(pil)).transpose(2, 0, 1), F.invert(u).numpy())
    np.testing.assert_array_equal(np.asarray(F.adjust_brightness(pil, 0.5)).transpose(2, 0, 1),
                                  F.adjust_brightness(u, 0.5).numpy())
