"""Tutorial programs (tests/tutorial_programs.py: our own code making the calls of PyTorch's beginner
tutorials and of pytorch/examples' MNIST script) print the same under shenjing as under torch 2.13, seeded alike.

Before training every number is PyTorch's exactly (the same random streams); after training, printed losses
may differ in the last printed digit (float32 sums in another order). Two differences are normalised here,
named as such: the library's name in ``Size``/dtype reprs (the objects are shenjing's), and the memory address
in a printed grad_fn (``<AddBackward0 object at 0x...>``); grad_fn names themselves are compared as printed.
The two programs that train convolutional networks run only with SHENJING_SLOW_TUTORIALS=1 (about 30 s).
"""

from __future__ import annotations

import os
import pathlib
import re

import pytest

import shenjing

torch = pytest.importorskip("torch")

from tutorial_programs import PROGRAMS, load_digits, run, same_up_to_rounding, section  # noqa: E402

SLOW = os.environ.get("SHENJING_SLOW_TUTORIALS") == "1"
_SLOW_PROGRAMS = {"quickstart", "mnist_example"}


def _normalised(line: str) -> str:
    line = line.replace("shenjing.Size", "torch.Size")
    line = re.sub(r"\bshenjing\.(float|int|uint|bool)", r"torch.\1", line)
    return re.sub(r" object at 0x[0-9a-f]+>", " object at 0x...>", line)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_a_tutorial_prints_what_it_prints_under_torch(program, digits):
    if program in _SLOW_PROGRAMS and not SLOW:
        pytest.skip("trains a network for a while: set SHENJING_SLOW_TUTORIALS=1")
    ours, theirs = run(program, shenjing, digits), run(program, torch, digits)
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs):
        mine, reference = _normalised(mine), _normalised(reference)
        assert same_up_to_rounding(mine, reference, rtol=1e-5), f"shenjing: {mine!r}\n   torch: {reference!r}"


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_docs_tutorials_shows_what_the_program_prints(program, digits):
    """docs/tutorials.md is the page ``python tests/tutorial_programs.py --markdown`` writes today."""
    if program in _SLOW_PROGRAMS and not SLOW:
        pytest.skip("trains a network for a while: set SHENJING_SLOW_TUTORIALS=1")
    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "tutorials.md").read_text(encoding="utf-8")
    assert section(program, digits) in page, "docs/tutorials.md is stale: python tests/tutorial_programs.py --markdown"

