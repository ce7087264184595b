"""pillow, the optional image library, imported only when an image is actually needed.

``pip install shenjing[vision]`` installs it. Without it, MNIST items are uint8 ndarrays and the transforms
work on tensors; anything that must make or read a PIL image raises an ImportError that says how to get it.
"""

from __future__ import annotations

import sys
from typing import Any

INSTALL_HINT = "pip install shenjing[vision] (from a clone: pip install -e '.[vision]')"


def pil_image_module() -> Any | None:
    """``PIL.Image`` if pillow can be imported, else None."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def require_pil(what: str) -> Any:
    """``PIL.Image``, or an ImportError that names ``what`` needed it and how to install pillow."""
    module = pil_image_module()
    if module is None:
        raise ImportError(f"{what} needs pillow, the optional image library, which is not installed: "
                          f"{INSTALL_HINT}, or pip install pillow")
    return module


def is_pil_image(obj: Any) -> bool:
    """True if ``obj`` is a PIL image (never imports pillow: without it loaded there can be no PIL image)."""
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(obj, module.Image)
