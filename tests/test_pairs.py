"""Every TensorFlow / PyTorch pair in notebooks 01-09 is marked for the site's two columns.

scripts/mark_pairs.py finds the pairs (a TF-only code cell, then a PyTorch-only one) and
writes their metadata; this test fails when a notebook has a pair without its markings,
and checks the script on small notebooks: it pairs what it should, touches only metadata,
and a second run changes nothing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("mark_pairs", REPO / "scripts" / "mark_pairs.py")
mark_pairs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mark_pairs)

NOTEBOOKS = sorted((REPO / "notebooks").glob("0[1-9]_*.ipynb"))
v4 = nbformat.v4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_pair_is_marked(path):
    nb = nbformat.read(path, as_version=4)
    missing = mark_pairs.unmarked_pairs(nb, path.stem)
    assert not missing, (f"{path.name}: cells {missing} start a TF/PyTorch pair without "
                         "pair metadata: run `python scripts/mark_pairs.py " + f"notebooks/{path.name}`")


def tiny() -> nbformat.NotebookNode:
    out = v4.new_output("stream", name="stdout", text="3.0\n")
    return v4.new_notebook(cells=[
        v4.new_markdown_cell("## A gradient"),
        v4.new_code_cell("x_tf = tf.Variable(2.0)  # torch.tensor in a comment does not count",
                         outputs=[out], execution_count=1),
        v4.new_markdown_cell("PyTorch: mark the input."),
        v4.new_code_cell("x_pt = torch.tensor(2.0, requires_grad=True)"),
        v4.new_code_cell("assert_close(x_tf, x_pt)"),  # both: no pair
        v4.new_code_cell("a = tf.ones(2)"),
        v4.new_code_cell("b = torch.ones(2)"),
    ])


def test_unmarked_pair_is_caught_and_marking_fixes_it():
    nb = tiny()
    assert mark_pairs.unmarked_pairs(nb) == [1, 5]
    assert mark_pairs.mark(nb, "01_tiny") == 2
    assert mark_pairs.unmarked_pairs(nb) == []
    assert [c.metadata.get("tfpt") for c in nb.cells] == [
        None, {"pair": "tf", "pair_id": "01-1"}, {"pair": "torch", "pair_id": "01-1"},
        {"pair": "torch", "pair_id": "01-1"}, None,
        {"pair": "tf", "pair_id": "01-2"}, {"pair": "torch", "pair_id": "01-2"}]


def test_only_metadata_changes_and_a_second_run_changes_nothing(tmp_path):
    nb = tiny()
    nb.cells[1].metadata["tfpt"] = {"verified": True}  # someone else's key survives
    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, path)
    before = nbformat.read(path, as_version=4)
    assert mark_pairs.process(path, check=False) == (2, True)
    first = path.read_text(encoding="utf-8")
    assert mark_pairs.process(path, check=False) == (2, False)
    assert path.read_text(encoding="utf-8") == first
    after = nbformat.read(path, as_version=4)
    for old, new in zip(before.cells, after.cells):
        assert (old.source, old.get("outputs"), old.get("execution_count")) == (
            new.source, new.get("outputs"), new.get("execution_count"))
    assert after.cells[1].metadata["tfpt"] == {"verified": True, "pair": "tf", "pair_id": "01-1"}
    assert mark_pairs.main(["--check", str(path)]) == 0


def test_override_pairs_cells_the_heuristic_misses(monkeypatch):
    nb = v4.new_notebook(cells=[v4.new_code_cell("model.fit(x)"), v4.new_markdown_cell("## Next"),
                                v4.new_code_cell("train(model, loader)")])
    assert mark_pairs.find_pairs(nb, "09_x") == []
    monkeypatch.setitem(mark_pairs.OVERRIDES, "09_x", {"pair": [("model.fit", "train(")]})
    assert mark_pairs.find_pairs(nb, "09_x") == [(0, 2)]
    monkeypatch.setitem(mark_pairs.OVERRIDES, "09_x", {"pair": [("nowhere", "train(")]})
    with pytest.raises(SystemExit, match="fix OVERRIDES"):
        mark_pairs.find_pairs(nb, "09_x")
