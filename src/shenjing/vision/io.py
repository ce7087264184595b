"""torchvision.io for images: read and write PNG and JPEG files as uint8 tensors (C, H, W).

    >>> import shenjing, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "square.png")
    >>> shenjing.vision.io.write_png(shenjing.full((1, 4, 4), 255, dtype=shenjing.uint8), path)
    >>> shenjing.vision.io.read_image(path).shape
    shenjing.Size([1, 4, 4])

The codecs are pillow's (``pip install -e '.[vision]'``).
"""

from __future__ import annotations

import io as _bytes_io
import os
from enum import Enum
from typing import Any

import numpy as np

from shenjing._tensor import Tensor
from shenjing.vision._pil import require_pil

__all__ = ["ImageReadMode", "read_file", "write_file", "decode_image", "read_image", "decode_png", "encode_png",
           "write_png", "decode_jpeg", "encode_jpeg", "write_jpeg"]


class ImageReadMode(Enum):
    """How ``decode_image`` converts what it reads: as stored, grey, grey with alpha, RGB or RGB with alpha."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4


_PIL_MODES = {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA", ImageReadMode.RGB: "RGB",
              ImageReadMode.RGB_ALPHA: "RGBA"}


def read_file(path: str | os.PathLike) -> Tensor:
    """The bytes of a file as a 1-D uint8 tensor."""
    with open(path, "rb") as handle:
        return Tensor._make(np.frombuffer(handle.read(), np.uint8).copy())


def write_file(filename: str | os.PathLike, data: Tensor) -> None:
    """Write a 1-D uint8 tensor's bytes to a file."""
    array = _uint8(data, "write_file", ndim=1)
    with open(filename, "wb") as handle:
        handle.write(array.tobytes())


def _uint8(data: Any, name: str, ndim: int | None = None) -> np.ndarray:
    if not isinstance(data, Tensor):
        raise TypeError(f"{name}: expected a tensor, got {type(data).__name__}")
    array = data.detach().numpy()
    if array.dtype != np.uint8:
        raise RuntimeError(f"{name}: input tensor dtype should be uint8, got {data.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise RuntimeError(f"{name}: input data must be {ndim}D, got a tensor of shape {list(array.shape)}")
    return array


def decode_image(input: Any, mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
                 apply_exif_orientation: bool = False) -> Tensor:
    """An encoded image (a 1-D uint8 tensor of its bytes, or a path) as a uint8 tensor (C, H, W)."""
    image_module = require_pil("decode_image")
    if isinstance(mode, str):
        mode = ImageReadMode[mode.upper()]
    if isinstance(input, (str, os.PathLike)):
        input = read_file(input)
    data = _uint8(input, "decode_image", ndim=1).tobytes()
    try:
        image = image_module.open(_bytes_io.BytesIO(data))
        image.load()
    except Exception as error:  # noqa: BLE001 - pillow raises several kinds for bad data
        raise RuntimeError(f"decode_image: the data is not an image pillow can read ({error})") from None
    if apply_exif_orientation:
        from PIL import ImageOps

        image = ImageOps.exif_transpose(image)
    if mode is not ImageReadMode.UNCHANGED:
        image = image.convert(_PIL_MODES[mode])
    elif image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    pixels = np.asarray(image, np.uint8)
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    return Tensor._make(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def read_image(path: str | os.PathLike, mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
               apply_exif_orientation: bool = False) -> Tensor:
    """A PNG or JPEG file as a uint8 tensor (C, H, W)."""
    return decode_image(read_file(path), mode, apply_exif_orientation)


def decode_png(input: Tensor, mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
               apply_exif_orientation: bool = False) -> Tensor:
    """PNG bytes (a 1-D uint8 tensor) as a uint8 image (C, H, W): ``decode_image``."""
    return decode_image(input, mode, apply_exif_orientation)


def decode_jpeg(input: Tensor, mode: ImageReadMode | str = ImageReadMode.UNCHANGED, device: Any = "cpu",
                apply_exif_orientation: bool = False) -> Tensor:
    """JPEG bytes (a 1-D uint8 tensor) as a uint8 image (C, H, W): ``decode_image``."""
    return decode_image(input, mode, apply_exif_orientation)


def _encode(input: Tensor, name: str, format: str, **options: Any) -> Tensor:
    image_module = require_pil(name)
    array = _uint8(input, name, ndim=3)
    channels = array.shape[0]
    if channels not in (1, 3) + ((2, 4) if format == "PNG" else ()):
        raise RuntimeError(f"{name}: the number of channels should be 1 or 3{' (or 2, 4)' if format == 'PNG' else ''}, "
                           f"got {channels}")
    pixels = array.transpose(1, 2, 0)
    image = image_module.fromarray(pixels[:, :, 0] if channels == 1 else pixels,
                                   {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels])
    buffer = _bytes_io.BytesIO()
    image.save(buffer, format=format, **options)
    return Tensor._make(np.frombuffer(buffer.getvalue(), np.uint8).copy())


def encode_png(input: Tensor, compression_level: int = 6) -> Tensor:
    """A uint8 image (C, H, W) encoded as PNG bytes (a 1-D uint8 tensor)."""
    if not 0 <= compression_level <= 9:
        raise RuntimeError(f"encode_png: compression level should be between 0 and 9, got {compression_level}")
    return _encode(input, "encode_png", "PNG", compress_level=compression_level)


def write_png(input: Tensor, filename: str | os.PathLike, compression_level: int = 6) -> None:
    """Write a uint8 image (C, H, W) as a PNG file."""
    write_file(filename, encode_png(input, compression_level))


def encode_jpeg(input: Tensor, quality: int = 75) -> Tensor:
    """A uint8 image (C, H, W) with 1 or 3 channels encoded as JPEG bytes."""
    if not 1 <= quality <= 100:
        raise ValueError(f"Image quality should be a positive number between 1 and 100, got {quality}")
    return _encode(input, "encode_jpeg", "JPEG", quality=quality)


def write_jpeg(input: Tensor, filename: str | os.PathLike, quality: int = 75) -> None:
    """Write a uint8 image (C, H, W) as a JPEG file."""
    write_file(filename, encode_jpeg(input, quality))
