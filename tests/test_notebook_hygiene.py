"""Every committed notebook is clean: see scripts/nbhygiene.py for the rules."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import nbhygiene  # noqa: E402

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_series_is_there():
    numbers = [nb.name[:2] for nb in NOTEBOOKS]  # 00, 01, ... without a gap: none went missing
    assert len(NOTEBOOKS) >= 8 and numbers == [f"{i:02d}" for i in range(len(NOTEBOOKS))], numbers


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_clean(path):
    found = nbhygiene.problems(path)
    assert not found, f"{path.name}: " + "; ".join(found[:10]) + (
        "\nRe-execute it with `make notebooks NB=notebooks/" + path.name + "` (full mode).")


def test_a_main_path_over_60_cells_is_flagged(tmp_path):
    import json

    def notebook(cells: list[str]) -> Path:
        path = tmp_path / "nb.ipynb"
        path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": [s]} for s in cells],
                                    "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
        return path

    too_long = ["text"] * 61
    assert any("main path of 61 cells" in p for p in nbhygiene.problems(notebook(too_long)))
    with_detours = ["text"] * 60 + ["---\n## Going deeper\n"] + ["text"] * 30
    assert not any("main path" in p for p in nbhygiene.problems(notebook(with_detours)))
