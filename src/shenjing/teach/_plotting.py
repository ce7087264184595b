"""What the picture-making tools share: matplotlib imported only when a picture is drawn, figures
made without pyplot (no GUI backend, no global state), and saving a figure to a file.

matplotlib is an optional dependency (the ``plot`` extra); without it, every plotting function
raises an ImportError that says how to install it.
"""

from __future__ import annotations

import io
import os
from typing import Any

PLOT_EXTRA_HINT = "pip install shenjing[plot] (from a clone: pip install -e '.[plot]')"

# Colours a colour-blind reader can tell apart (Okabe and Ito), used for classes and optimisers.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def require_matplotlib(what: str = "drawing this picture") -> Any:
    """Import and return ``matplotlib``, or raise an ImportError naming the extra to install."""
    try:
        import matplotlib
        from matplotlib.figure import Figure  # noqa: F401  (fails on a broken install too)
    except ImportError as error:
        raise ImportError(f"{what} needs matplotlib: {PLOT_EXTRA_HINT}") from error
    return matplotlib


def new_figure(width: float, height: float, what: str = "drawing this picture", dpi: int = 100) -> Any:
    """A matplotlib ``Figure`` of ``width`` x ``height`` inches that is not attached to pyplot."""
    require_matplotlib(what)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=dpi, layout="constrained")


def save_figure(figure: Any, path: str | os.PathLike | None) -> None:
    """Write ``figure`` to ``path`` (PNG, SVG or PDF by the file's extension); nothing for ``None``."""
    if path is None:
        return
    figure.savefig(os.fspath(path), dpi=figure.dpi)


def figure_to_image(figure: Any) -> Any:
    """The figure rendered as a PIL image (RGB), for assembling animated GIFs."""
    from shenjing.vision._pil import require_pil

    Image = require_pil("writing an animated GIF")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return image.convert("RGB")
