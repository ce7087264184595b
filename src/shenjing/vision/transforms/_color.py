"""NumPy kernels of the photometric transforms, on images (..., C, H, W) of floats in [0, 1] or uint8 in
0..255 (``bound``: 1 or 255). torchvision's tensor formulas:

    blend(a, b, r) = clip(r a + (1 - r) b, 0, bound)          (uint8 results truncated, as .to(uint8))
    brightness f:  blend(x, 0, f)       contrast f: blend(x, mean(gray(x)), f)     saturation f: blend(x, gray(x), f)
    hue h:         rotate the hue of HSV by h (a fraction of a turn, |h| <= 0.5)
    invert: bound - x      solarize t: bound - x where x >= t      posterize b: x & ~(2^(8-b) - 1)  (uint8)
    autocontrast:  per channel (x - min) bound / (max - min)  (channels with max = min left alone)
    equalize:      per-channel histogram equalisation (uint8)
    sharpness f:   blend(x, smooth(x), f), smooth = [[1,1,1],[1,5,1],[1,1,1]] / 13 inside, the border kept
    gaussian blur: a separable kernel exp(-t^2 / 2 sigma^2) (normalised) with reflected borders
"""

from __future__ import annotations

import numpy as np

from shenjing.vision.transforms._array import rgb_to_grayscale


def bound_of(array: np.ndarray) -> float:
    return 1.0 if array.dtype.kind == "f" else float(np.iinfo(array.dtype).max)


def _to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return values.astype(dtype) if dtype.kind == "f" else np.trunc(values).astype(dtype)


def blend(first: np.ndarray, second: np.ndarray | float, ratio: float) -> np.ndarray:
    bound = bound_of(first)
    values = ratio * first.astype(np.float64) + (1.0 - ratio) * np.asarray(second, np.float64)
    return _to_dtype(np.clip(values, 0, bound), first.dtype)


def _gray(array: np.ndarray) -> np.ndarray:
    return rgb_to_grayscale(array) if array.shape[-3] == 3 else array


def adjust_brightness(array: np.ndarray, factor: float) -> np.ndarray:
    return blend(array, 0.0, factor)


def adjust_contrast(array: np.ndarray, factor: float) -> np.ndarray:
    gray = _gray(array).astype(np.float64 if array.dtype == np.float64 else np.float32)
    return blend(array, gray.mean(axis=(-3, -2, -1), keepdims=True), factor)


def adjust_saturation(array: np.ndarray, factor: float) -> np.ndarray:
    if array.shape[-3] == 1:
        return array.copy()
    return blend(array, _gray(array), factor)


def _rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    top, bottom = rgb.max(axis=-3), rgb.min(axis=-3)
    spread = top - bottom
    safe_top = np.where(top == 0, 1, top)
    saturation = spread / safe_top
    safe = np.where(spread == 0, 1, spread)
    rc, gc, bc = (top - r) / safe, (top - g) / safe, (top - b) / safe
    hue = np.where(top == r, bc - gc, np.where(top == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = np.where(spread == 0, 0.0, (hue / 6.0) % 1.0)
    return np.stack([hue, saturation, top], axis=-3)


def _hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    h, s, v = hsv[..., 0, :, :], hsv[..., 1, :, :], hsv[..., 2, :, :]
    sector = np.floor(h * 6.0)
    f = h * 6.0 - sector
    sector = sector.astype(np.int64) % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    channels = [np.choose(sector, [c[k] for c in choices]) for k in range(3)]
    return np.stack(channels, axis=-3)


def adjust_hue(array: np.ndarray, factor: float) -> np.ndarray:
    if not -0.5 <= factor <= 0.5:
        raise ValueError(f"hue_factor ({factor}) is not in [-0.5, 0.5].")
    if array.shape[-3] == 1:
        return array.copy()
    bound = bound_of(array)
    hsv = _rgb_to_hsv(array.astype(np.float64) / bound)
    hsv[..., 0, :, :] = (hsv[..., 0, :, :] + factor) % 1.0
    rgb = _hsv_to_rgb(hsv) * bound
    return rgb.astype(array.dtype) if array.dtype.kind == "f" else np.clip(np.rint(rgb), 0, bound).astype(array.dtype)


def invert(array: np.ndarray) -> np.ndarray:
    return (bound_of(array) - array).astype(array.dtype) if array.dtype.kind == "f" else ~array


def solarize(array: np.ndarray, threshold: float) -> np.ndarray:
    return np.where(array >= threshold, invert(array), array)


def posterize(array: np.ndarray, bits: int) -> np.ndarray:
    if array.dtype != np.uint8:
        raise TypeError(f"posterize: only uint8 images are supported, got {array.dtype}")
    mask = np.uint8((0xFF << (8 - bits)) & 0xFF)
    return array & mask


def autocontrast(array: np.ndarray) -> np.ndarray:
    bound = bound_of(array)
    values = array.astype(np.float64)
    low = values.min(axis=(-2, -1), keepdims=True)
    high = values.max(axis=(-2, -1), keepdims=True)
    flat = high == low
    scale = bound / np.where(flat, 1, high - low)
    low = np.where(flat, 0, low)
    scale = np.where(flat, 1, scale)
    return _to_dtype(np.clip((values - low) * scale, 0, bound), array.dtype)


def equalize(array: np.ndarray) -> np.ndarray:
    if array.dtype != np.uint8:
        raise TypeError(f"equalize: only uint8 images are supported, got {array.dtype}")
    out = np.empty_like(array)
    flat_in, flat_out = array.reshape(-1, *array.shape[-2:]), out.reshape(-1, *array.shape[-2:])
    for k, channel in enumerate(flat_in):
        histogram = np.bincount(channel.reshape(-1), minlength=256)
        nonzero = histogram[histogram != 0]
        step = (histogram.sum() - (nonzero[-1] if nonzero.size else 0)) // 255
        if step == 0:
            flat_out[k] = channel
            continue
        lut = (np.cumsum(histogram) + step // 2) // step
        lut = np.clip(np.concatenate([[0], lut[:-1]]), 0, 255).astype(np.uint8)
        flat_out[k] = lut[channel]
    return out


def adjust_sharpness(array: np.ndarray, factor: float) -> np.ndarray:
    if array.shape[-1] <= 2 or array.shape[-2] <= 2:
        return array.copy()
    values = array.astype(np.float64)
    smooth = values.copy()
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float64) / 13.0
    h, w = values.shape[-2:]
    inner = sum(kernel[i, j] * values[..., i:h - 2 + i, j:w - 2 + j] for i in range(3) for j in range(3))
    smooth[..., 1:-1, 1:-1] = inner if array.dtype.kind == "f" else np.rint(inner)
    return blend(array, smooth, factor)


def gaussian_blur(array: np.ndarray, kernel_size: tuple[int, int], sigma: tuple[float, float]) -> np.ndarray:
    """Blur with a (kernel_size[1] x kernel_size[0]) Gaussian (torchvision's order: (x, y) sizes and sigmas)."""
    values = array.astype(np.float64 if array.dtype == np.float64 else np.float32)

    def kernel(size: int, s: float) -> np.ndarray:
        t = np.linspace(-(size - 1) * 0.5, (size - 1) * 0.5, size)
        weights = np.exp(-0.5 * (t / s) ** 2)
        return (weights / weights.sum()).astype(values.dtype)

    kx, ky = kernel(kernel_size[0], sigma[0]), kernel(kernel_size[1], sigma[1])
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    pad = [(0, 0)] * (values.ndim - 2) + [(py, py), (px, px)]
    padded = np.pad(values, pad, mode="reflect")
    h, w = values.shape[-2:]
    rows = sum(ky[i] * padded[..., i:i + h, :] for i in range(kernel_size[1]))
    blurred = sum(kx[j] * rows[..., :, j:j + w] for j in range(kernel_size[0]))
    if array.dtype.kind == "f":
        return blurred.astype(array.dtype)
    return np.clip(np.rint(blurred), 0, bound_of(array)).astype(array.dtype)
