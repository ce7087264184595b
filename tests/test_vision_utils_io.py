"""vision.utils (make_grid, save_image) and vision.io (read/write/encode/decode of PNG and JPEG).

torchvision does not install beside this PyTorch build, so make_grid is checked against its documented
layout, built here by hand: nrow images per row, ``padding`` pixels of ``pad_value`` around each, one channel
repeated to three, ``normalize`` mapping [min, max] onto [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

import shenjing as sj
from shenjing.vision import io as vio
from shenjing.vision import utils as vutils

RNG = np.random.default_rng(2)


def _grid_by_hand(images, nrow, padding, pad_value):
    n, c, h, w = images.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = np.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding), pad_value, np.float32)
    for k, image in enumerate(images):
        r, q = divmod(k, cols)
        top, left = r * (h + padding) + padding, q * (w + padding) + padding
        grid[:, top:top + h, left:left + w] = image
    return grid


@pytest.mark.parametrize("n,nrow,padding,pad_value", [(10, 5, 2, 0.0), (7, 8, 0, 1.0), (3, 2, 3, 0.5)])
def test_make_grid_tiles_as_documented(n, nrow, padding, pad_value):
    images = RNG.random((n, 3, 4, 5)).astype(np.float32)
    grid = vutils.make_grid(sj.tensor(images), nrow=nrow, padding=padding, pad_value=pad_value)
    np.testing.assert_array_equal(grid.numpy(), _grid_by_hand(images, nrow, padding, pad_value))


def test_make_grid_repeats_grey_normalises_and_takes_lists():
    grey = RNG.random((4, 1, 3, 3)).astype(np.float32) * 10 - 5
    grid = vutils.make_grid(sj.tensor(grey), nrow=2, normalize=True)
    expected = _grid_by_hand(np.repeat((grey - grey.min()) / (grey.max() - grey.min()), 3, axis=1), 2, 2, 0.0)
    np.testing.assert_allclose(grid.numpy(), expected, rtol=1e-6)
    clipped = vutils.make_grid(sj.tensor(grey), nrow=2, normalize=True, value_range=(-1, 1))
    assert clipped.numpy().min() >= 0 and clipped.numpy().max() <= 1
    each = vutils.make_grid(sj.tensor(grey), nrow=4, normalize=True, scale_each=True)
    for k in range(4):  # every image spans [0, 1] on its own
        cell = each.numpy()[0, 2:5, 2 + 5 * k:5 + 5 * k]
        assert cell.min() == 0 and cell.max() == 1
    listed = vutils.make_grid([sj.tensor(g) for g in grey], nrow=2)
    np.testing.assert_array_equal(listed.numpy(), vutils.make_grid(sj.tensor(grey), nrow=2).numpy())
    one = vutils.make_grid(sj.tensor(grey[:1]))
    assert tuple(one.shape) == (3, 3, 3)


def test_save_image_writes_the_grid_rounded_to_bytes(tmp_path):
    pytest.importorskip("PIL")
    images = RNG.random((2, 3, 4, 4)).astype(np.float32)
    path = tmp_path / "grid.png"
    vutils.save_image(sj.tensor(images), path, nrow=2, padding=1)
    read = vio.read_image(path).numpy()
    expected = np.clip(_grid_by_hand(images, 2, 1, 0.0) * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(read, expected)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        vutils.save_image(sj.tensor(images), tmp_path / "missing" / "grid.png")


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_round_trips_exactly(tmp_path, channels):
    pytest.importorskip("PIL")
    pixels = RNG.integers(0, 256, (channels, 5, 6)).astype(np.uint8)
    path = tmp_path / "image.png"
    vio.write_png(sj.tensor(pixels), path)
    np.testing.assert_array_equal(vio.read_image(path).numpy(), pixels)
    encoded = vio.encode_png(sj.tensor(pixels), compression_level=9)
    np.testing.assert_array_equal(vio.decode_png(encoded).numpy(), pixels)
    np.testing.assert_array_equal(vio.read_file(path).numpy(), np.frombuffer(path.read_bytes(), np.uint8))


def test_read_modes_convert_as_asked(tmp_path):
    pytest.importorskip("PIL")
    rgb = RNG.integers(0, 256, (3, 4, 4)).astype(np.uint8)
    path = tmp_path / "rgb.png"
    vio.write_png(sj.tensor(rgb), path)
    assert tuple(vio.read_image(path, vio.ImageReadMode.GRAY).shape) == (1, 4, 4)
    assert tuple(vio.read_image(path, "RGB_ALPHA").shape) == (4, 4, 4)
    assert vio.read_image(path, vio.ImageReadMode.RGB_ALPHA).numpy()[3].min() == 255


def test_jpeg_round_trips_closely_and_bad_input_is_named(tmp_path):
    pytest.importorskip("PIL")
    smooth = np.tile(np.linspace(0, 255, 16, dtype=np.uint8), (3, 16, 1))
    path = tmp_path / "image.jpg"
    vio.write_jpeg(sj.tensor(smooth), path, quality=95)
    back = vio.decode_jpeg(vio.read_file(path)).numpy()
    assert back.shape == smooth.shape and np.abs(back.astype(int) - smooth).max() <= 8
    with pytest.raises(RuntimeError, match="dtype should be uint8"):
        vio.encode_png(sj.zeros(3, 4, 4))
    with pytest.raises(RuntimeError, match="not an image"):
        vio.decode_image(sj.tensor(np.frombuffer(b"not a picture", np.uint8).copy()))
    with pytest.raises(ValueError, match="quality"):
        vio.encode_jpeg(sj.tensor(smooth), quality=0)


def test_fake_data_is_repeatable_and_in_range():
    from shenjing.vision import datasets, transforms

    data = datasets.FakeData(size=5, image_size=(3, 6, 7), num_classes=4, transform=transforms.ToTensor())
    image, label = data[2]
    assert len(data) == 5 and tuple(image.shape) == (3, 6, 7) and 0 <= label < 4
    again, label_again = data[2]
    np.testing.assert_array_equal(image.numpy(), again.numpy())
    assert label == label_again and 0.0 <= image.numpy().min() and image.numpy().max() <= 1.0
    other = datasets.FakeData(size=5, image_size=(3, 6, 7), num_classes=4, transform=transforms.ToTensor(),
                              random_offset=1)
    assert not np.array_equal(other[2][0].numpy(), image.numpy())
    with pytest.raises(IndexError):
        data[5]
