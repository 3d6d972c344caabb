"""`make run` executes notebooks headless into build/ and times them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("run_series", REPO / "scripts" / "run_series.py")
run_series = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_series)


def test_run_executes_a_notebook_into_html(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    source = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, source)
    out = tmp_path / "build"
    out.mkdir()
    seconds = run_series.run(source, out, timeout=120)
    executed = nbformat.read(out / "01_tiny.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n" and seconds > 0
    assert "42" in (out / "01_tiny.html").read_text()
