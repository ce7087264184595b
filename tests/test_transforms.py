"""shenjing.vision.transforms: expected values by hand, from torchvision's documented formulas, from PyTorch's
``interpolate`` (resizing) and from pillow (the PIL path and the tensor path must agree)."""

from __future__ import annotations

import doctest
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import shenjing
from shenjing.vision import transforms as T
from shenjing.vision.transforms import _array, functional as F, transforms as transforms_module

RNG = np.random.default_rng(0)
GREY = RNG.integers(0, 256, (17, 23), dtype=np.uint8)
RGB = RNG.integers(0, 256, (9, 11, 3), dtype=np.uint8)


def as_tensor_image(array: np.ndarray) -> shenjing.Tensor:
    """H x W (x C) uint8 -> a (C, H, W) tensor with the same values."""
    return shenjing.from_numpy(np.ascontiguousarray(array[None] if array.ndim == 2 else array.transpose(2, 0, 1)))


def chw(image) -> np.ndarray:
    """A PIL image or tensor image as a (C, H, W) array."""
    if isinstance(image, Image.Image):
        array = np.array(image)
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return image.numpy()


ARANGE_3x3 = shenjing.arange(9.0).reshape(1, 3, 3)


# -- conversions -----------------------------------------------------------------------------------


def test_to_tensor_scales_uint8_and_moves_channels_first():
    gray = np.array([[0, 51], [102, 255]], dtype=np.uint8)
    out = T.ToTensor()(gray)
    assert out.dtype == shenjing.float32 and tuple(out.shape) == (1, 2, 2)
    np.testing.assert_array_equal(out.numpy()[0], np.array([[0, 0.2], [0.4, 1.0]], dtype=np.float32))
    out = T.ToTensor()(RGB)
    assert tuple(out.shape) == (3, 9, 11)
    np.testing.assert_array_equal(out.numpy(), RGB.transpose(2, 0, 1).astype(np.float32) / np.float32(255))


def test_to_tensor_of_pil_images():
    np.testing.assert_array_equal(T.ToTensor()(Image.fromarray(GREY)).numpy()[0], GREY / np.float32(255))
    np.testing.assert_array_equal(T.ToTensor()(Image.fromarray(RGB)).numpy(),
                                  RGB.transpose(2, 0, 1) / np.float32(255))
    bits = Image.fromarray(np.array([[True, False], [False, True]]))
    assert bits.mode == "1"
    assert T.ToTensor()(bits).tolist() == [[[1.0, 0.0], [0.0, 1.0]]]


def test_to_tensor_does_not_scale_float_arrays():
    values = np.array([[[2.5], [-1.0]]], dtype=np.float64)  # H=1, W=2, C=1
    out = T.ToTensor()(values)
    assert out.dtype == shenjing.float64 and out.tolist() == [[[2.5, -1.0]]]


def test_to_tensor_errors():
    with pytest.raises(ValueError, match="2- or 3-dimensional"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), dtype=np.uint8))
    with pytest.raises(TypeError, match="PIL Image or an ndarray"):
        T.ToTensor()([[1, 2]])


def test_pil_to_tensor_keeps_uint8_values():
    out = T.PILToTensor()(Image.fromarray(RGB))
    assert out.dtype == shenjing.uint8
    np.testing.assert_array_equal(out.numpy(), RGB.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="PIL Image"):
        T.PILToTensor()(RGB)


def test_to_pil_image():
    image = T.ToPILImage()(shenjing.tensor([[[0.5, 1.0], [0.0, 0.2]]]))
    assert image.mode == "L"
    np.testing.assert_array_equal(np.array(image), [[127, 255], [0, 51]])  # x * 255, truncated (torchvision)
    rgb = T.ToPILImage()(as_tensor_image(RGB))
    assert rgb.mode == "RGB"
    np.testing.assert_array_equal(np.array(rgb), RGB)
    assert T.ToPILImage()(RGB[:, :, :1].copy()).mode == "L"
    assert T.ToPILImage()(np.zeros((2, 2, 4), dtype=np.uint8)).mode == "RGBA"
    assert T.ToPILImage()(np.zeros((2, 2), dtype=np.float32)).mode == "F"
    with pytest.raises(ValueError, match="at most 4 channels"):
        T.ToPILImage()(np.zeros((2, 2, 5), dtype=np.uint8))


def test_without_pillow_to_pil_image_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=r"pip install shenjing\[vision\]"):
        T.ToPILImage()(shenjing.zeros(1, 2, 2))
    assert tuple(T.ToTensor()(GREY).shape) == (1, 17, 23)  # ndarray -> tensor needs no pillow
    assert tuple(T.Pad(1)(shenjing.zeros(1, 2, 2)).shape) == (1, 4, 4)


# -- Normalize, Compose, Lambda ---------------------------------------------------------------------


def test_normalize_by_hand():
    x = shenjing.tensor([[[0.0, 1.0]], [[0.5, 0.25]]])  # C=2, H=1, W=2
    out = T.Normalize(mean=[0.5, 0.25], std=[0.5, 0.125])(x)
    np.testing.assert_allclose(out.numpy(), [[[-1.0, 1.0]], [[2.0, 0.0]]])
    assert out.dtype == shenjing.float32
    single = T.Normalize((0.1307,), (0.3081,))(shenjing.ones(1, 2, 2))
    np.testing.assert_allclose(single.numpy(), np.full((1, 2, 2), (1 - 0.1307) / 0.3081), rtol=1e-6)
    batched = T.Normalize([0.5, 0.25], [0.5, 0.125])(shenjing.stack([x, x]))
    np.testing.assert_allclose(batched.numpy(), np.stack([out.numpy()] * 2))


def test_normalize_inplace_and_gradient():
    x = shenjing.ones(2, 1, 1)
    result = T.Normalize([1.0, 0.0], [2.0, 4.0], inplace=True)(x)
    assert result is x and x.flatten().tolist() == [0.0, 0.25]
    leaf = shenjing.ones(2, 2, 2, requires_grad=True)
    F.normalize(leaf, [0.0, 1.0], [2.0, 4.0]).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), np.stack([np.full((2, 2), 0.5), np.full((2, 2), 0.25)]))


def test_normalize_errors():
    with pytest.raises(ValueError, match="zero"):
        T.Normalize([0.0], [0.0])(shenjing.ones(1, 2, 2))
    with pytest.raises(TypeError, match="float tensor.*uint8"):
        T.Normalize([0.0], [1.0])(shenjing.zeros(1, 2, 2, dtype=shenjing.uint8))
    with pytest.raises(ValueError, match="3 values but the image has 2 channels"):
        T.Normalize([0.0, 0.0, 0.0], [1.0])(shenjing.ones(2, 2, 2))
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        T.Normalize([0.0], [1.0])(shenjing.ones(2, 2))


def test_compose_and_lambda():
    pipeline = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2), T.Normalize((1.0,), (1.0,))])
    out = pipeline(np.array([[255, 0]], dtype=np.uint8))
    assert out.tolist() == [[[1.0, -1.0]]]
    assert repr(pipeline).startswith("Compose(\n    ToTensor()")
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


# -- Pad, crops -------------------------------------------------------------------------------------


def test_pad_constant_by_hand():
    x = shenjing.tensor([[[1, 2], [3, 4]]])
    out = T.Pad((1, 0, 2, 1), fill=9)(x)  # left, top, right, bottom
    assert out.tolist() == [[[9, 1, 2, 9, 9], [9, 3, 4, 9, 9], [9, 9, 9, 9, 9]]]
    assert T.Pad((1, 2))(x).shape == (1, 6, 4)  # left/right 1, top/bottom 2
    assert T.Pad(1)(x).tolist()[0][0] == [0, 0, 0, 0]


@pytest.mark.parametrize("mode, expected", [("reflect", [3, 2, 1, 2, 3, 2, 1]), ("symmetric", [2, 1, 1, 2, 3, 3, 2]),
                                            ("edge", [1, 1, 1, 2, 3, 3, 3])])
def test_pad_modes_by_hand(mode, expected):
    row = shenjing.tensor([[[1.0, 2.0, 3.0]]])
    assert T.Pad((2, 0), padding_mode=mode)(row).tolist() == [[expected]]
    pil = T.Pad((2, 0), padding_mode=mode)(Image.fromarray(np.array([[1, 2, 3]], dtype=np.uint8)))
    assert np.array(pil).tolist() == [expected]


def test_pad_pil_rgb_per_channel_fill_matches_tensor():
    pil = T.Pad(2, fill=(10, 20, 30))(Image.fromarray(RGB))
    tensor = T.Pad(2, fill=(10, 20, 30))(as_tensor_image(RGB))
    assert pil.mode == "RGB" and pil.size == (15, 13)
    np.testing.assert_array_equal(chw(pil), tensor.numpy())
    assert tensor.numpy()[:, 0, 0].tolist() == [10, 20, 30]
    np.testing.assert_array_equal(tensor.numpy()[:, 2:-2, 2:-2], RGB.transpose(2, 0, 1))


def test_pad_errors():
    with pytest.raises(ValueError, match="padding_mode"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="non-negative"):
        T.Pad(-1)
    with pytest.raises(ValueError, match="1, 2 or 4"):
        T.Pad((1, 2, 3))
    with pytest.raises(TypeError, match="ndarray.*ToTensor"):
        T.Pad(1)(GREY)


def test_center_crop_by_hand():
    five = shenjing.arange(25).reshape(1, 5, 5)
    assert T.CenterCrop(3)(five).tolist() == [[[6, 7, 8], [11, 12, 13], [16, 17, 18]]]
    four = shenjing.arange(16).reshape(1, 4, 4)
    assert T.CenterCrop(1)(four).tolist() == [[[10]]]          # top = round(1.5) = 2 (Python's round)
    assert T.CenterCrop((2, 4))(four).tolist() == [[[4, 5, 6, 7], [8, 9, 10, 11]]]
    two = shenjing.tensor([[[1, 2], [3, 4]]])
    assert T.CenterCrop(4)(two).tolist() == [[[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]]]
    pil = T.CenterCrop((5, 7))(Image.fromarray(GREY))
    np.testing.assert_array_equal(np.array(pil), GREY[6:11, 8:15])  # top round(6.0), left round(8.0)


def test_random_crop_windows_are_uniform_and_repeatable():
    image = shenjing.arange(16).reshape(1, 4, 4)
    windows = {}
    shenjing.manual_seed(0)
    for _ in range(300):
        out = T.RandomCrop(2)(image).numpy()[0]
        top, left = divmod(int(out[0, 0]), 4)
        np.testing.assert_array_equal(out, image.numpy()[0, top:top + 2, left:left + 2])
        windows[(top, left)] = windows.get((top, left), 0) + 1
    assert len(windows) == 9 and min(windows.values()) > 10
    shenjing.manual_seed(42)
    first = [T.RandomCrop(2, padding=1)(image).tolist() for _ in range(5)]
    shenjing.manual_seed(42)
    assert [T.RandomCrop(2, padding=1)(image).tolist() for _ in range(5)] == first


def test_random_crop_padding_and_pil():
    out = T.RandomCrop(28, padding=4)(shenjing.ones(1, 28, 28))
    assert tuple(out.shape) == (1, 28, 28)
    shenjing.manual_seed(7)
    pil = T.RandomCrop((5, 6), padding=2)(Image.fromarray(GREY))
    shenjing.manual_seed(7)
    tensor = T.RandomCrop((5, 6), padding=2)(as_tensor_image(GREY))
    assert pil.size == (6, 5)
    np.testing.assert_array_equal(chw(pil), tensor.numpy())
    assert tuple(T.RandomCrop(5, pad_if_needed=True)(shenjing.ones(1, 3, 3)).shape) == (1, 5, 5)
    with pytest.raises(ValueError, match=r"crop size \(5, 5\) is larger than the input image size \(3, 3\)"):
        T.RandomCrop(5)(shenjing.ones(1, 3, 3))


# -- Resize ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("in_size, out_size", [((28, 28), (32, 32)), ((30, 20), (7, 11)), ((5, 9), (13, 4))])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_tensor_matches_torch_interpolate(in_size, out_size, antialias):
    x = RNG.random((2, 3) + in_size).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.tensor(x), out_size, mode="bilinear", align_corners=False,
                                               antialias=antialias).numpy()
    actual = F.resize(shenjing.tensor(x), out_size, antialias=antialias)
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-5, atol=1e-6)
    expected = torch.nn.functional.interpolate(torch.tensor(x), out_size, mode="nearest").numpy()
    np.testing.assert_array_equal(F.resize(shenjing.tensor(x), out_size, "nearest").numpy(), expected)


def test_resize_int_keeps_aspect_ratio():
    assert tuple(T.Resize(10)(shenjing.zeros(1, 20, 30)).shape) == (1, 10, 15)
    assert tuple(T.Resize(10)(shenjing.zeros(3, 30, 20)).shape) == (3, 15, 10)
    assert tuple(T.Resize(32)(shenjing.zeros(1, 28, 28)).shape) == (1, 32, 32)
    assert T.Resize(7)(Image.fromarray(GREY)).size == (int(7 * 23 / 17), 7)
    with pytest.raises(ValueError, match="size"):
        T.Resize(0)


def test_resize_uint8_tensor_rounds_the_float_result_and_pil_agrees():
    image = as_tensor_image(GREY)
    expected = torch.nn.functional.interpolate(torch.tensor(GREY[None, None], dtype=torch.float32), (9, 31),
                                               mode="bilinear", align_corners=False, antialias=True).numpy()[0]
    out = T.Resize((9, 31))(image)
    assert out.dtype == shenjing.uint8
    np.testing.assert_array_equal(out.numpy(), np.clip(np.rint(expected), 0, 255))
    pil = T.Resize((9, 31))(Image.fromarray(GREY))
    assert np.abs(chw(pil).astype(int) - out.numpy()).max() <= 1  # pillow rounds in fixed point


# -- flips, rotations, affine ------------------------------------------------------------------------


def test_horizontal_flip():
    image = shenjing.tensor([[[1, 2, 3], [4, 5, 6]]])
    assert T.RandomHorizontalFlip(p=1.0)(image).tolist() == [[[3, 2, 1], [6, 5, 4]]]
    assert T.RandomHorizontalFlip(p=0.0)(image).tolist() == image.tolist()
    assert T.RandomVerticalFlip(p=1.0)(image).tolist() == [[[4, 5, 6], [1, 2, 3]]]
    np.testing.assert_array_equal(np.array(T.RandomHorizontalFlip(1.0)(Image.fromarray(GREY))), GREY[:, ::-1])
    shenjing.manual_seed(3)
    flips = sum(T.RandomHorizontalFlip()(image).tolist() != image.tolist() for _ in range(400))
    assert 150 < flips < 250
    with pytest.raises(ValueError, match="probability"):
        T.RandomHorizontalFlip(1.5)


def test_rotation_by_90_degrees_is_counter_clockwise():
    expected = [[[2.0, 5.0, 8.0], [1.0, 4.0, 7.0], [0.0, 3.0, 6.0]]]  # the right column becomes the top row
    assert T.RandomRotation((90, 90))(ARANGE_3x3).tolist() == expected
    pil = T.RandomRotation((90, 90))(Image.fromarray(np.arange(9, dtype=np.uint8).reshape(3, 3)))
    assert np.array(pil).tolist() == expected[0]
    wide = shenjing.arange(6).reshape(1, 2, 3)
    assert F.rotate(wide, 90, expand=True).tolist() == [[[2, 5], [1, 4], [0, 3]]]
    assert F.rotate(wide, 180).tolist() == [[[5, 4, 3], [2, 1, 0]]]


@pytest.mark.parametrize("angle", [30.0, -47.5, 13.0])
@pytest.mark.parametrize("expand", [False, True])
def test_rotation_tensor_path_agrees_with_pillow(angle, expand):
    pil = np.array(F.rotate(Image.fromarray(GREY), angle, expand=expand))
    tensor = F.rotate(as_tensor_image(GREY), angle, expand=expand).numpy()[0]
    assert pil.shape == tensor.shape
    assert np.mean(pil == tensor) > 0.99  # nearest: only points exactly on a pixel edge may differ
    pil = np.array(F.rotate(Image.fromarray(RGB), angle, "bilinear", expand, fill=(10, 200, 30)))
    tensor = F.rotate(as_tensor_image(RGB), angle, "bilinear", expand, fill=(10, 200, 30)).numpy()
    assert np.abs(pil.transpose(2, 0, 1).astype(int) - tensor).max() <= 1


def test_random_rotation_is_repeatable_and_in_range():
    shenjing.manual_seed(5)
    angles = [T.RandomRotation.get_params((-10.0, 10.0)) for _ in range(200)]
    assert all(-10 <= a <= 10 for a in angles) and min(angles) < -8 and max(angles) > 8
    shenjing.manual_seed(9)
    first = T.RandomRotation(40)(Image.fromarray(GREY))
    shenjing.manual_seed(9)
    np.testing.assert_array_equal(np.array(T.RandomRotation(40)(Image.fromarray(GREY))), np.array(first))
    with pytest.raises(ValueError, match="degrees"):
        T.RandomRotation(-5)


def test_affine_translation_scale_and_shear_by_hand():
    four = shenjing.arange(1, 17).reshape(1, 4, 4)
    moved = F.affine(four, 0.0, (1, 2), 1.0).numpy()[0]  # right by 1, down by 2
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[2:, 1:] = four.numpy()[0, :2, :3]
    np.testing.assert_array_equal(moved, expected)
    zoomed = F.affine(four, 0.0, (0, 0), 2.0).numpy()[0]  # input x = 2 + (x_out + 0.5 - 2) / 2 -> 1, 1, 2, 2
    np.testing.assert_array_equal(zoomed, four.numpy()[0][[1, 1, 2, 2]][:, [1, 1, 2, 2]])
    sheared = F.affine(ARANGE_3x3, 0.0, (0, 0), 1.0, shear=45.0)  # row i moves right by (i - 1)
    assert sheared.tolist() == [[[1.0, 2.0, 0.0], [3.0, 4.0, 5.0], [0.0, 6.0, 7.0]]]
    pil = F.affine(Image.fromarray(four.numpy()[0].astype(np.uint8)), 0.0, (1, 2), 1.0)
    np.testing.assert_array_equal(np.array(pil), expected)


def test_random_affine_uses_its_drawn_parameters():
    image = as_tensor_image(GREY)
    transform = T.RandomAffine(degrees=0, translate=(0.2, 0.3))
    shenjing.manual_seed(11)
    _, (tx, ty), scale, _ = T.RandomAffine.get_params(transform.degrees, transform.translate, None, None, (23, 17))
    shenjing.manual_seed(11)
    out = transform(image).numpy()[0]
    assert scale == 1.0 and abs(tx) <= round(0.2 * 23) and abs(ty) <= round(0.3 * 17)
    expected = np.zeros_like(GREY)
    src = GREY[max(-ty, 0):17 - max(ty, 0), max(-tx, 0):23 - max(tx, 0)]
    expected[max(ty, 0):max(ty, 0) + src.shape[0], max(tx, 0):max(tx, 0) + src.shape[1]] = src
    np.testing.assert_array_equal(out, expected)


def test_random_affine_pil_and_tensor_agree_and_repeat():
    transform = T.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5)
    shenjing.manual_seed(21)
    pil = np.array(transform(Image.fromarray(GREY)))
    shenjing.manual_seed(21)
    tensor = transform(as_tensor_image(GREY)).numpy()[0]
    assert np.mean(pil == tensor) > 0.99
    shenjing.manual_seed(21)
    np.testing.assert_array_equal(np.array(transform(Image.fromarray(GREY))), pil)
    with pytest.raises(ValueError, match="translate"):
        T.RandomAffine(0, translate=(0.5, 2.0))
    with pytest.raises(ValueError, match="scale"):
        T.RandomAffine(0, scale=(0.0, 1.0))


# -- Grayscale ---------------------------------------------------------------------------------------


def test_grayscale_luma_by_hand():
    pixel = shenjing.tensor([[[1.0]], [[0.0]], [[0.0]]])
    assert T.Grayscale()(pixel).item() == pytest.approx(0.299)
    x = RNG.random((3, 4, 5)).astype(np.float32)
    expected = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    np.testing.assert_allclose(T.Grayscale()(shenjing.tensor(x)).numpy()[0], expected, rtol=1e-6)
    three = T.Grayscale(num_output_channels=3)(shenjing.tensor(x)).numpy()
    assert three.shape == (3, 4, 5) and np.array_equal(three[0], three[1]) and np.array_equal(three[1], three[2])


def test_grayscale_uint8_rounds_like_pillow():
    pixel = np.array([[[100, 150, 200]]], dtype=np.uint8)  # 29.9 + 88.05 + 22.8 = 140.75
    assert T.Grayscale()(as_tensor_image(pixel)).tolist() == [[[141]]]
    assert np.array(T.Grayscale()(Image.fromarray(pixel))).tolist() == [[141]]
    pil = T.Grayscale(3)(Image.fromarray(RGB))
    tensor = T.Grayscale(3)(as_tensor_image(RGB)).numpy()
    assert pil.mode == "RGB" and np.abs(chw(pil).astype(int) - tensor).max() <= 1


def test_grayscale_single_channel_and_errors():
    one = shenjing.arange(4.0).reshape(1, 2, 2)
    assert T.Grayscale(3)(one).tolist() == [one.tolist()[0]] * 3
    with pytest.raises(ValueError, match="1 or 3 channels"):
        T.Grayscale()(shenjing.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="num_output_channels"):
        T.Grayscale(2)


def test_course_pipeline_mnist_to_3x32x32():
    digit = Image.fromarray(GREY[:14, :14])
    pipeline = T.Compose([T.Resize(32), T.Grayscale(3), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)])
    out = pipeline(digit)
    assert tuple(out.shape) == (3, 32, 32) and out.dtype == shenjing.float32
    assert -1.0 <= out.min().item() and out.max().item() <= 1.0


def test_interpolation_mode_names():
    assert T.Resize(4, interpolation="NEAREST").interpolation is T.InterpolationMode.NEAREST
    with pytest.raises(ValueError, match="interpolation"):
        T.Resize(4, interpolation="lanczos-ish")
    with pytest.raises(ValueError, match="bicubic"):
        F.resize(shenjing.zeros(1, 4, 4), 2, "bicubic")


def test_linear_weights_rows_sum_to_one():
    weights = _array.linear_weights(10, 3)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert (weights >= 0).all()


def test_doctests_of_the_transform_modules():
    for module in (T, F, transforms_module):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0, module.__name__
