"""``torch.accelerator``: the device-agnostic accelerator API. shenjing computes on the CPU only, so no
accelerator is ever available; examples that ask first (``device = torch.accelerator.current_accelerator()
if torch.accelerator.is_available() else "cpu"``) take the CPU branch."""

from __future__ import annotations

from typing import Any

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "set_device_index",
           "synchronize"]


def is_available() -> bool:
    """False: shenjing has no accelerator backend."""
    return False


def current_accelerator(check_available: bool = False) -> Any:
    """None: there is no accelerator (PyTorch returns None too when it has none)."""
    return None


def device_count() -> int:
    """0: no accelerators."""
    return 0


def current_device_index() -> int:
    """Raises, as PyTorch does when no accelerator is available."""
    raise RuntimeError("shenjing.accelerator: no accelerator is available (shenjing runs on the CPU)")


def set_device_index(device: Any) -> None:
    """Raises: there is no accelerator to select."""
    raise RuntimeError("shenjing.accelerator: no accelerator is available (shenjing runs on the CPU)")


def synchronize(device: Any = None) -> None:
    """Nothing to wait for on the CPU."""
