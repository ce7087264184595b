"""Devices. shenjing computes on the CPU with NumPy; ``cpu`` is the one device.

``device('cuda')`` can be named (so device-agnostic code parses), but moving a tensor there raises a
clear error until a GPU backend exists.
"""

from __future__ import annotations

from typing import Any

__all__ = ["device", "cpu", "check_device"]


class device:
    """A compute device: ``device('cpu')``. Compares equal to its name."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index
        name = str(type)
        if ":" in name:
            name, _, number = name.partition(":")
            index = int(number)
        if name not in ("cpu", "cuda", "mps"):
            raise RuntimeError(f"Expected one of cpu, cuda, mps device type at start of device string: {type}")
        self.type, self.index = name, index

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"


cpu = device("cpu")


def check_device(target: Any) -> None:
    """Accept the CPU; refuse any other device with an explanation."""
    if target is None:
        return
    if device(target).type != "cpu":
        raise RuntimeError(f"shenjing runs on the CPU only (NumPy); device '{target}' is not available. "
                           f"Use device='cpu' (or check shenjing.cuda.is_available(), which is False).")
