"""Execute every notebook headless into build/ (executed .ipynb + HTML), timing each.

`make run` calls this; instructors use it to check a machine before a workshop.
Honours TFPT_QUICK and TFPT_DATA_DIR like the notebooks themselves.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]


def run(notebook: Path, out_dir: Path, timeout: int = 1800) -> float:
    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    elapsed = time.perf_counter() - start
    nbformat.write(nb, out_dir / notebook.name)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out_dir / notebook.with_suffix(".html").name).write_text(html)
    return elapsed


def main() -> int:
    out_dir = ROOT / "build"
    out_dir.mkdir(exist_ok=True)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    failed, total = [], 0.0
    for nb in notebooks:
        try:
            seconds = run(nb, out_dir)
            total += seconds
            print(f"{nb.name:<40} {seconds:7.1f} s")
        except Exception as err:  # keep going: report every broken notebook at once
            failed.append(nb.name)
            print(f"{nb.name:<40}  FAILED: {type(err).__name__}: {str(err)[:300]}")
    print(f"{'total':<40} {total:7.1f} s   -> {out_dir}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
