"""vision.utils.draw_bounding_boxes / draw_segmentation_masks / draw_keypoints: torchvision's documented
behaviour (torchvision itself does not install beside this torch), the mask blend computed with torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing.vision import utils

RNG = np.random.default_rng(0)


def image(channels=3, size=(20, 24), dtype=np.uint8):
    array = RNG.integers(0, 256, (channels,) + size, dtype=np.uint8)
    return array if dtype == np.uint8 else (array / 255.0).astype(dtype)


def ring(x0, y0, x1, y1):
    """The pixels of a one-pixel rectangle outline, corners included."""
    return {(x, y) for x in range(x0, x1 + 1) for y in (y0, y1)} | {(x, y) for y in range(y0, y1 + 1) for x in (x0, x1)}


@pytest.mark.parametrize("width", [1, 2])
def test_boxes_outline_drawn_inwards_in_the_given_colour(width):
    original = image()
    out = utils.draw_bounding_boxes(sj.tensor(original), sj.tensor([[2, 3, 10, 12]]), colors="red",
                                    width=width).numpy()
    assert out.dtype == np.uint8 and out.shape == original.shape
    outline = set().union(*(ring(2 + i, 3 + i, 10 - i, 12 - i) for i in range(width)))
    for y in range(20):
        for x in range(24):
            expected = (255, 0, 0) if (x, y) in outline else tuple(original[:, y, x])
            assert tuple(out[:, y, x]) == expected, (x, y)


def test_boxes_default_palette_fill_labels_and_float_and_grey():
    original = image()
    boxes = sj.tensor([[0.0, 0.0, 5.0, 5.0], [8.0, 2.0, 20.0, 18.0], [1.0, 10.0, 4.0, 15.0]])
    out = utils.draw_bounding_boxes(sj.tensor(original), boxes).numpy()
    primes = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1])
    for i, (x, y) in enumerate([(0, 0), (8, 2), (1, 10)]):
        assert tuple(out[:, y, x]) == tuple((i * primes) % 255)
    filled = utils.draw_bounding_boxes(sj.tensor(original), sj.tensor([[8, 2, 20, 18]]), colors=(0, 0, 255),
                                       fill=True).numpy()
    expected = original[:, 10, 12] * (155 / 255) + np.array([0, 0, 255]) * (100 / 255)
    np.testing.assert_allclose(filled[:, 10, 12], expected, atol=1.01)
    labelled = utils.draw_bounding_boxes(sj.tensor(np.zeros((3, 40, 60), np.uint8)), sj.tensor([[0, 0, 59, 39]]),
                                         labels=["cat"], colors="white").numpy()
    assert labelled[:, 2:20, 2:30].max() > 200  # the text (anti-aliased), in the box colour, near the top-left
    assert labelled[:, 25:38, 30:58].max() == 0
    backed = utils.draw_bounding_boxes(sj.tensor(np.zeros((3, 40, 60), np.uint8)), sj.tensor([[0, 0, 59, 39]]),
                                       labels=["cat"], colors="red", label_colors="white", fill_labels=True).numpy()
    region = backed[:, 2:20, 2:30]
    red = (region[0] == 255) & (region[1] == 0) & (region[2] == 0)
    assert red.sum() > 20 and region[1].max() > 200  # white text on a red label background
    grey = utils.draw_bounding_boxes(sj.tensor(image(1)), sj.tensor([[1, 1, 4, 4]]), colors="lime")
    assert tuple(grey.shape) == (3, 20, 24) and tuple(grey.numpy()[:, 1, 1]) == (0, 255, 0)
    as_float = utils.draw_bounding_boxes(sj.tensor(image(dtype=np.float32)), sj.tensor([[1, 1, 4, 4]]),
                                         colors="blue")
    assert as_float.dtype == sj.float32 and tuple(as_float.numpy()[:, 1, 1]) == (0.0, 0.0, 1.0)


def test_boxes_errors_as_torchvision():
    img = sj.tensor(image())
    with pytest.raises(ValueError, match="xmin, ymin, xmax, ymax"):
        utils.draw_bounding_boxes(img, sj.tensor([[5, 0, 1, 3]]))
    with pytest.raises(ValueError, match="Pass individual images"):
        utils.draw_bounding_boxes(sj.tensor(image()[None]), sj.tensor([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="Only grayscale and RGB"):
        utils.draw_bounding_boxes(sj.tensor(image(2)), sj.tensor([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match=r"Number of boxes \(1\) and labels \(2\) mismatch"):
        utils.draw_bounding_boxes(img, sj.tensor([[0, 0, 1, 1]]), labels=["a", "b"])
    with pytest.raises(ValueError, match="Number of colors must be equal or larger"):
        utils.draw_bounding_boxes(img, sj.tensor([[0, 0, 1, 1], [0, 0, 2, 2]]), colors=["red"])
    with pytest.raises(TypeError, match="Tensor expected"):
        utils.draw_bounding_boxes(image(), sj.tensor([[0, 0, 1, 1]]))
    with pytest.warns(UserWarning, match="No box was drawn"):
        assert utils.draw_bounding_boxes(img, sj.zeros(0, 4)) is img


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("alpha", [0.8, 0.35])
def test_segmentation_masks_blend_as_torch_computes_it(dtype, alpha):
    original = image(dtype=dtype)
    masks = RNG.random((2, 20, 24)) < 0.4
    colors = [(255, 0, 0), (10, 200, 30)]
    out = utils.draw_segmentation_masks(sj.tensor(original), sj.tensor(masks), alpha=alpha, colors=colors)
    # torchvision's documented steps, run in torch
    img = torch.tensor(original)
    scale = 1.0 if dtype == np.uint8 else 1 / 255
    painted = img.clone()
    for mask, color in zip(torch.tensor(masks), colors):
        painted[:, mask] = torch.tensor([c * scale for c in color], dtype=img.dtype)[:, None]
    painted[:, torch.tensor(masks).sum(0) > 1] = 0
    expected = (img * (1 - alpha) + painted * alpha).to(img.dtype)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    one = utils.draw_segmentation_masks(sj.tensor(original), sj.tensor(masks[0]), colors="red")
    assert tuple(one.shape) == original.shape


def test_segmentation_masks_errors():
    img = sj.tensor(image())
    with pytest.raises(ValueError, match="dtype bool"):
        utils.draw_segmentation_masks(img, sj.ones(20, 24))
    with pytest.raises(ValueError, match="same height and width"):
        utils.draw_segmentation_masks(img, sj.ones(3, 3, dtype=sj.bool))
    with pytest.raises(ValueError, match="RGB image"):
        utils.draw_segmentation_masks(sj.tensor(image(1)), sj.ones(20, 24, dtype=sj.bool))


def test_keypoints_discs_lines_and_visibility():
    black = sj.tensor(np.zeros((3, 30, 30), np.uint8))
    points = sj.tensor([[[5.0, 5.0], [20.0, 5.0], [20.0, 25.0]]])
    out = utils.draw_keypoints(black, points, connectivity=[(0, 1)], colors="red", radius=2, width=1).numpy()
    assert tuple(out[:, 6, 5]) == (255, 0, 0) and tuple(out[:, 25, 20]) == (255, 0, 0)
    assert tuple(out[:, 5, 12]) == (255, 255, 255)  # the line between points 0 and 1
    assert out[:, 15, 20].max() == 0 and out[:, 28, 2].max() == 0
    hidden = utils.draw_keypoints(black, points, connectivity=[(0, 1)], colors="red",
                                  visibility=sj.tensor([[True, False, True]])).numpy()
    assert hidden[:, 5, 20].max() == 0 and hidden[:, 5, 12].max() == 0 and tuple(hidden[:, 5, 5]) == (255, 0, 0)
    assert utils.draw_keypoints(black, points).numpy().max() == 0  # no colour: torchvision draws no disc
    with pytest.raises(ValueError, match="num_instances, K, 2"):
        utils.draw_keypoints(black, sj.zeros(3, 2))
