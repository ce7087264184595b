"""Packaging: the MIT licence file in the repository, the wheel and the sdist, an SPDX licence expression,
and the NumPy lower bound in the wheel's metadata (.ci/run runs the suite on that oldest NumPy)."""

import os
import shutil
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_licence_is_mit_with_its_file():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"  # an SPDX expression, not the deprecated table
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Copyright (c) 2026 the shenjing authors" in text
    assert "MIT" in (ROOT / "README.md").read_text(encoding="utf-8")


def _numpy_bound() -> tuple[int, ...]:
    (numpy,) = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("numpy")]
    return tuple(int(part) for part in numpy.split(">=")[1].split("."))


def test_wheel_and_sdist_hold_the_licence(tmp_path):
    setuptools = pytest.importorskip("setuptools")
    needed = PYPROJECT["build-system"]["requires"][0].split(">=")[1]
    if tuple(map(int, setuptools.__version__.split(".")[:1])) < tuple(map(int, needed.split(".")[:1])):
        pytest.skip(f"building needs setuptools>={needed}")
    import setuptools.build_meta as backend

    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path / "dist"
    out.mkdir()
    here = os.getcwd()
    os.chdir(source)
    try:
        wheel = out / backend.build_wheel(str(out))
        sdist = out / backend.build_sdist(str(out))
    finally:
        os.chdir(here)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in text
    assert f"Requires-Dist: numpy>={'.'.join(map(str, _numpy_bound()))}" in text
    with tarfile.open(sdist) as archive:
        assert any(n.endswith("/LICENSE") and n.count("/") == 1 for n in archive.getnames())
