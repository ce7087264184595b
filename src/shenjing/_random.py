"""Random numbers: one seedable ``Generator`` (NumPy's PCG64) behind rand/randn/randint/randperm.

``manual_seed(s)`` makes every later draw repeat exactly from run to run. The numbers differ from
PyTorch's (a different algorithm) but have the same distributions.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
           "set_rng_state"]

_DEFAULT_SEED = 67280421310721  # PyTorch's default initial seed, so unseeded runs are repeatable too


class Generator:
    """A source of random numbers with its own seed and state (pass as ``generator=``)."""

    def __init__(self, device: Any = "cpu") -> None:
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        self._initial_seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed & 0xFFFFFFFFFFFFFFFF))
        return self

    def seed(self) -> int:
        """Re-seed from the operating system's entropy; returns the new seed."""
        new_seed = int(np.random.SeedSequence().entropy % (1 << 63))
        self.manual_seed(new_seed)
        return new_seed

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self) -> Any:
        """The full state as a uint8 tensor (save it to resume the same stream of numbers)."""
        from shenjing._tensor import Tensor

        text = json.dumps({"seed": self._initial_seed, "state": self.rng.bit_generator.state})
        return Tensor._make(np.frombuffer(text.encode(), dtype=np.uint8).copy())

    def set_state(self, state: Any) -> "Generator":
        array = state.numpy() if hasattr(state, "numpy") else np.asarray(state, dtype=np.uint8)
        try:
            saved = json.loads(bytes(array.astype(np.uint8)).decode())
            self._initial_seed = saved["seed"]
            self.rng.bit_generator.state = saved["state"]
        except (ValueError, KeyError, TypeError) as error:
            raise RuntimeError(f"set_state: not a generator state produced by get_state(): {error}") from None
        return self


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator: the same seed gives the same numbers in every run."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Any:
    return default_generator.get_state()


def set_rng_state(state: Any) -> None:
    default_generator.set_state(state)


def rng_of(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).rng
