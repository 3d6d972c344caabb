"""`make student` writes student notebooks: no solution survives, checks stay, outputs go."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("build_student",
                                              REPO / "scripts" / "build_student.py")
build_student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_student)


def _tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def _code(source: str, tags: list[str], count: int) -> nbformat.NotebookNode:
    cell = new_code_cell(source, execution_count=count, metadata={"tags": tags})
    cell.outputs = [new_output("stream", name="stdout", text="45\n")]
    return cell


def synthetic_notebook() -> nbformat.NotebookNode:
    """A tiny lesson: a heading, a solution, its check, plain cells, an instructor note."""
    return new_notebook(cells=[
        new_markdown_cell("# 01 · Demo\n\n## Sum the first ten integers"),
        _code('total = sum(range(10))  # the loop-free answer\nprint(f"{total=}")',
              ["solution"], 1),
        _code("assert total == 45, total  # the check students run", ["check"], 2),
        new_markdown_cell("Why does `range(10)` stop at 9?"),
        new_markdown_cell("Because the stop value is exclusive, like a slice.",
                          metadata={"tags": ["solution"]}),
        _code("secret_grading_key = 'abc'", ["instructor"], 3),
        _code("print('plain cell')", [], 4),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})


def assert_student_copy(source: nbformat.NotebookNode, student: nbformat.NotebookNode) -> None:
    """The properties every student notebook has, whatever its source."""
    nbformat.validate(student)
    kept = [c for c in source.cells if "instructor" not in _tags(c)]
    assert len(student.cells) == len(kept)
    for before, after in zip(kept, student.cells, strict=True):
        if "solution" in _tags(before):  # its stub keeps none of the solution's lines
            for line in filter(None, (ln.strip() for ln in before.source.splitlines())):
                assert line not in after.source, f"solution line survived: {line!r}"
        if "check" in _tags(before):
            assert (after.source, _tags(after)) == (before.source, _tags(before))
        assert after.cell_type == before.cell_type
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_synthetic_notebook(tmp_path):
    source_path = tmp_path / "src" / "01_demo.ipynb"
    source_path.parent.mkdir()
    nbformat.write(synthetic_notebook(), source_path)
    out = tmp_path / "student"
    assert build_student.main(["--out", str(out), str(source_path)]) == 0
    source = nbformat.read(source_path, as_version=4)
    student = nbformat.read(out / "01_demo.ipynb", as_version=4)
    assert_student_copy(source, student)

    stub, prompt = student.cells[1], student.cells[4]
    assert "# your code here" in stub.source and _tags(stub) == ["exercise"]
    assert prompt.source == build_student.PROMPT
    assert "secret_grading_key" not in (out / "01_demo.ipynb").read_text()
    with pytest.raises(NotImplementedError, match="exercise: Sum the first ten integers"):
        exec(stub.source, {})  # noqa: S102  (the stub a student runs)


def test_real_notebooks(tmp_path):
    sources = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sources, "notebooks/ has no NN_*.ipynb"
    assert build_student.main(["--out", str(tmp_path)]) == 0
    for path in sources:
        assert_student_copy(nbformat.read(path, as_version=4),
                            nbformat.read(tmp_path / path.name, as_version=4))


def test_clear_errors(tmp_path, capsys):
    assert build_student.main(["--out", str(tmp_path), str(tmp_path / "missing.ipynb")]) == 2
    assert "not a notebook file" in capsys.readouterr().err

    nb = synthetic_notebook()
    nb.cells[2].metadata["tags"] = ["solution", "check"]
    nbformat.write(nb, tmp_path / "02_both.ipynb")
    both = str(tmp_path / "02_both.ipynb")
    assert build_student.main(["--out", str(tmp_path / "out"), both]) == 1
    assert "remove one of the two tags" in capsys.readouterr().err

    assert build_student.main(["--out", str(tmp_path), both]) == 2
    assert "would overwrite" in capsys.readouterr().err
