"""docs/compatibility.md holds the coverage table that ``tools/api_coverage.py`` measures from PyTorch today."""

from __future__ import annotations

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("api_coverage", ROOT / "tools" / "api_coverage.py")
api_coverage = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(api_coverage)


def test_the_documented_table_is_the_measured_one():
    measured = api_coverage.table(api_coverage.coverage())
    written = (ROOT / "docs" / "compatibility.md").read_text()
    assert measured in written, "docs/compatibility.md is stale: run python tools/api_coverage.py --write"


def test_a_name_counts_only_where_shenjing_has_it():
    rows = {title: (present, missing) for title, _, present, missing in api_coverage.coverage()}
    present, missing = rows["torch.nn (layers, all)"]
    assert "Conv2d" in present and "Linear" in present  # PyTorch's names that shenjing.nn has
    import shenjing.nn

    assert all(not hasattr(shenjing.nn, name) for name in missing)
    assert api_coverage.excluded("_private") and api_coverage.excluded("cuda") and not api_coverage.excluded("relu")
