"""Random numbers: PyTorch's CPU generator, so ``manual_seed(s)`` gives PyTorch's own numbers.

The engine is the 32-bit Mersenne Twister (MT19937) seeded as ``std::mt19937(seed)`` (Matsumoto and
Nishimura's ``init_genrand`` on the seed's low 32 bits), which is what PyTorch's CPU generator runs. NumPy's
``MT19937`` bit generator holds the same 624-word state and twists it the same way, so the 624 words are
written into it directly and raw 32-bit words are drawn from it in bulk (``random_raw``). How words become
floats, normals, integers and permutations lives in ``shenjing._random_draws``.

``get_rng_state()`` is a uint8 tensor of 5056 bytes laid out as PyTorch's: the 64-bit initial seed, the
engine's ``left``/``seeded``/``next`` counters, the 624 state words (one per 64-bit slot), the cached
double normal and the cached float normal, so a state saved by either library can be read by the other.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
           "set_rng_state"]

_DEFAULT_SEED = 67280421310721  # PyTorch's default initial seed, so unseeded runs are repeatable too
_STATE_WORDS = 624
_STATE_BYTES = 5056
_HEADER = struct.Struct("<Qii Q")                 # initial seed, left, seeded, next
_NORMALS = struct.Struct("<dddi4x fB3x")          # normal_x, normal_y, normal_rho, is_valid, float, valid
_WORDS_AT = _HEADER.size                          # 24
_NORMALS_AT = _WORDS_AT + 8 * _STATE_WORDS        # 5016


def mt19937_key(seed: int) -> np.ndarray:
    """The 624 state words ``std::mt19937(seed)`` starts from (init_genrand on ``seed mod 2**32``)."""
    words = [seed & 0xFFFFFFFF]
    for index in range(1, _STATE_WORDS):
        previous = words[-1]
        words.append((1812433253 * (previous ^ (previous >> 30)) + index) & 0xFFFFFFFF)
    return np.array(words, dtype=np.uint32)


def _as_seed(seed: Any) -> int:
    seed = int(seed)
    if not -(1 << 63) <= seed < (1 << 64):
        raise RuntimeError(f"manual_seed: seed must be within [-0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff], "
                           f"got {seed}")
    return seed & 0xFFFFFFFFFFFFFFFF  # a negative seed wraps as PyTorch's (-1 is 2**64 - 1)


class Generator:
    """A source of random numbers with its own seed and state (pass it as ``generator=``).

    ``Generator().manual_seed(s)`` draws the same numbers as ``torch.Generator().manual_seed(s)``.
    """

    def __init__(self, device: Any = "cpu") -> None:
        from shenjing._device import check_device

        check_device(device)
        self._engine = np.random.MT19937()
        self.manual_seed(_DEFAULT_SEED)

    @property
    def device(self) -> Any:
        from shenjing._device import device

        return device("cpu")

    def manual_seed(self, seed: int) -> "Generator":
        """Restart from ``seed`` (any integer in [-2**63, 2**64)); returns the generator."""
        seed = _as_seed(seed)
        self._initial_seed = seed
        self._engine.state = {"bit_generator": "MT19937", "state": {"key": mt19937_key(seed), "pos": 624}}
        self._fresh = True           # PyTorch's engine says next=0 until the first draw
        self._next_normal: float | None = None        # the scalar normal path's spare sample
        self._next_float_normal: float | None = None
        return self

    def seed(self) -> int:
        """Re-seed from the operating system's entropy; returns the new seed."""
        new_seed = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(new_seed)
        return new_seed

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with."""
        return self._initial_seed

    # -- raw words ---------------------------------------------------------------------------------

    def words32(self, count: int) -> np.ndarray:
        """The next ``count`` 32-bit outputs of the engine (as uint64 values below 2**32)."""
        self._fresh = False
        return self._engine.random_raw(int(count))

    def words64(self, count: int) -> np.ndarray:
        """The next ``count`` 64-bit draws, each two 32-bit words: the first is the high half."""
        pairs = self.words32(2 * int(count)).reshape(-1, 2)
        return (pairs[:, 0] << np.uint64(32)) | pairs[:, 1]

    # -- state ---------------------------------------------------------------------------------------

    def get_state(self) -> Any:
        """The full state as a uint8 tensor of PyTorch's layout (5056 bytes)."""
        from shenjing._tensor import Tensor

        engine = self._engine.state["state"]
        position = int(engine["pos"])
        left = 1 if position >= _STATE_WORDS else _STATE_WORDS + 1 - position
        following = 0 if self._fresh else position
        buffer = bytearray(_STATE_BYTES)
        _HEADER.pack_into(buffer, 0, self._initial_seed, left, 1, following)
        buffer[_WORDS_AT:_NORMALS_AT] = np.asarray(engine["key"], dtype=np.uint64).astype("<u8").tobytes()
        normal_valid = self._next_normal is not None
        float_valid = self._next_float_normal is not None
        _NORMALS.pack_into(buffer, _NORMALS_AT, 0.0, self._next_normal if normal_valid else 0.0, 0.0,
                           int(normal_valid), self._next_float_normal if float_valid else 0.0, int(float_valid))
        return Tensor._make(np.frombuffer(bytes(buffer), dtype=np.uint8).copy())

    def set_state(self, new_state: Any) -> "Generator":
        """Restore a state from ``get_state()`` (this library's or PyTorch's)."""
        array = new_state.numpy() if hasattr(new_state, "numpy") else np.asarray(new_state)
        if array.dtype != np.uint8:
            raise TypeError(f"RNG state must be a torch.ByteTensor (uint8), got dtype {array.dtype}")
        if array.size != _STATE_BYTES:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {_STATE_BYTES} (what get_state() "
                               f"returns) but found the input RNG state size to be {array.size}")
        buffer = array.reshape(-1).tobytes()
        seed, left, _seeded, following = _HEADER.unpack_from(buffer, 0)
        if not 1 <= left <= _STATE_WORDS:
            raise RuntimeError(f"set_state: corrupt state: 'left' is {left}, expected 1..{_STATE_WORDS}")
        key = np.frombuffer(buffer[_WORDS_AT:_NORMALS_AT], dtype="<u8").astype(np.uint32)
        _x, normal, _rho, normal_valid, float_normal, float_valid = _NORMALS.unpack_from(buffer, _NORMALS_AT)
        position = _STATE_WORDS if left == 1 else _STATE_WORDS + 1 - left
        self._initial_seed = seed
        self._engine.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": position}}
        self._fresh = left == 1 and following == 0
        self._next_normal = normal if normal_valid else None
        self._next_float_normal = float_normal if float_valid else None
        return self

    def __repr__(self) -> str:
        return "<shenjing.Generator object (cpu)>"


default_generator = Generator()


def generator_or_default(generator: Generator | None) -> Generator:
    """``generator`` itself, or the default generator when it is None (checked to be a Generator)."""
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a shenjing.Generator, got {type(generator).__name__}")
    return generator


def manual_seed(seed: int) -> Generator:
    """Seed the default generator: the same seed gives the same numbers in every run (and PyTorch's)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state() -> Any:
    """The default generator's state as a uint8 tensor (PyTorch's layout)."""
    return default_generator.get_state()


def set_rng_state(new_state: Any) -> None:
    """Restore the default generator's state from ``get_rng_state()``."""
    default_generator.set_state(new_state)


def rng_of(generator: Generator | None) -> Any:
    """A NumPy-Generator-like view of ``generator`` (or the default one) for draws PyTorch has no exact
    counterpart for here (image transforms' parameters, test inputs): every number still comes from the
    generator's MT19937 stream, so ``manual_seed`` repeats them."""
    from shenjing._random_draws import StreamView

    return StreamView(generator_or_default(generator))
