"""affine_grid and grid_sample against PyTorch 2.13: values and gradients (image, grid and affine matrices),
every padding mode, both align_corners, nearest and bilinear."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import check_op

RNG = np.random.default_rng(83)


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 1, 1, 3), (2, 1, 2, 3, 4)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(size, align_corners):
    theta = RNG.standard_normal((size[0], len(size) - 2, len(size) - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the unit-size grid warning, from both)
        check_op(lambda t: F.affine_grid(t, size, align_corners=align_corners),
                 lambda t: TF.affine_grid(t, size, align_corners=align_corners), theta)


def _away_from_pixel_edges(grid, size, align_corners):
    """Grid points not within 1e-3 pixel of a pixel boundary (where bilinear weights have kinks) or of
    half-pixels (where nearest rounding flips), so central differences are meaningful."""
    pixel = (grid + 1) / 2 * (size - 1) if align_corners else ((grid + 1) * size - 1) / 2
    fraction = pixel - np.floor(pixel)
    bad = (np.abs(fraction) < 1e-3) | (np.abs(fraction - 1) < 1e-3) | (np.abs(fraction - 0.5) < 1e-3)
    return np.where(bad, grid + 0.01, grid)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_matches_torch(padding_mode, align_corners, mode):
    image = RNG.standard_normal((2, 3, 4, 5))
    grid = RNG.uniform(-1.4, 1.4, (2, 3, 2, 2))  # some points outside the image
    grid[..., 0] = _away_from_pixel_edges(grid[..., 0], 5, align_corners)
    grid[..., 1] = _away_from_pixel_edges(grid[..., 1], 4, align_corners)
    kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    check_op(lambda x, g: F.grid_sample(x, g, **kwargs), lambda x, g: TF.grid_sample(x, g, **kwargs), image, grid)


def test_spatial_transformer_chain_matches_torch():
    image, theta = RNG.standard_normal((2, 1, 6, 6)), RNG.standard_normal((2, 2, 3)) * 0.3 + np.eye(2, 3)

    def chain(lib):
        def run(x, t):
            grid = lib.affine_grid(t, list(x.shape), align_corners=False)
            return lib.grid_sample(x, grid, align_corners=False)
        return run
    check_op(chain(F), chain(TF), image, theta)


def test_grid_functions_warn_and_raise_like_torch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.affine_grid(sj.zeros(1, 2, 3), (1, 1, 2, 2))
    assert any("align_corners=False since 1.3.0" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="Expected a batch of 2D affine matrices of shape Nx2x3"):
        F.affine_grid(sj.zeros(1, 3, 3), (1, 1, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match="expected padding_mode to be 'zeros', 'border', or 'reflection'"):
        F.grid_sample(sj.zeros(1, 1, 2, 2), sj.zeros(1, 1, 1, 2), padding_mode="wrap", align_corners=False)
