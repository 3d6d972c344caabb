"""Write the student edition of the series: solutions become stubs, outputs are cleared.

`make student` calls this. In each notebook, a code cell tagged `solution` becomes a stub
that raises NotImplementedError (a markdown cell tagged `solution` becomes a prompt),
cells tagged `instructor` are dropped, cells tagged `check` stay exactly as they are, and
every output and execution count is cleared, so no answer survives in the student copy.

    python scripts/build_student.py [--out build/student] [notebooks ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbconvert.preprocessors import (
    ClearOutputPreprocessor,
    Preprocessor,
    TagRemovePreprocessor,
)

ROOT = Path(__file__).resolve().parents[1]
SOLUTION, CHECK, INSTRUCTOR, EXERCISE = "solution", "check", "instructor", "exercise"
PROMPT = "*Your answer here.*"


def stub_source(hint: str) -> str:
    """The code a student sees in place of a solution cell."""
    return f"# your code here\nraise NotImplementedError({f'exercise: {hint}'!r})\n"


class StubSolutions(Preprocessor):
    """Replace each cell tagged `solution` by a stub tagged `exercise`, named after its heading."""

    def preprocess(self, nb, resources):
        heading, stubbed = "", 0
        for index, cell in enumerate(nb.cells):
            tags = list(cell.metadata.get("tags", []))
            if SOLUTION not in tags:
                if cell.cell_type == "markdown":
                    titles = [line.lstrip("#").strip() for line in cell.source.splitlines()
                              if line.startswith("#")]
                    heading = titles[-1] if titles else heading
                continue
            if CHECK in tags:
                raise ValueError(f"{resources.get('name', 'notebook')} cell {index} is tagged "
                                 "both 'solution' and 'check': remove one of the two tags")
            hint = heading or f"cell {index}"
            cell.source = stub_source(hint) if cell.cell_type == "code" else PROMPT
            cell.metadata["tags"] = [EXERCISE if t == SOLUTION else t for t in tags]
            cell.pop("attachments", None)  # a markdown answer may carry images
            stubbed += 1
        resources["stubbed"] = stubbed
        return nb, resources


def exporter() -> NotebookExporter:
    """A notebook-to-notebook exporter running the student preprocessors, in order."""
    nbe = NotebookExporter()
    nbe.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={INSTRUCTOR}), enabled=True)
    nbe.register_preprocessor(StubSolutions(), enabled=True)
    nbe.register_preprocessor(ClearOutputPreprocessor(
        remove_metadata_fields={"collapsed", "scrolled", "execution"}), enabled=True)
    return nbe


def build(source: Path, out_dir: Path) -> tuple[Path, int, int]:
    """Write the student copy of ``source`` into ``out_dir``; return (path, stubbed, checks)."""
    nb = nbformat.read(source, as_version=4)
    text, resources = exporter().from_notebook_node(nb, resources={"name": source.name})
    student = nbformat.reads(text, as_version=4)
    nbformat.validate(student)
    target = out_dir / source.name
    target.write_text(text, encoding="utf-8")
    checks = sum(CHECK in c.metadata.get("tags", []) for c in student.cells)
    return target, resources["stubbed"], checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "student",
                        help="folder for the student notebooks (default: build/student)")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to convert (default: notebooks/NN_*.ipynb)")
    args = parser.parse_args(argv)
    sources = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        print("error: no notebooks found: pass .ipynb files or run from the repository",
              file=sys.stderr)
        return 2
    for source in sources:
        if source.suffix != ".ipynb" or not source.is_file():
            print(f"error: {source} is not a notebook file: pass existing .ipynb files",
                  file=sys.stderr)
            return 2
        if source.resolve().parent == args.out.resolve():
            print(f"error: --out {args.out} holds the source notebooks and would overwrite "
                  "them: choose another folder", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for source in sources:
        try:
            target, stubbed, checks = build(source, args.out)
        except (ValueError, nbformat.ValidationError) as err:  # one line, not a traceback
            print(f"error: {source}: {str(err).splitlines()[0]}", file=sys.stderr)
            return 1
        print(f"{source.name:<36} {stubbed:3d} solution cell(s) stubbed, "
              f"{checks:3d} check cell(s) kept -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
