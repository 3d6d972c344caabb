"""Execute the notebooks headless, time each one, and check their outputs are clean.

    python scripts/run_series.py                       # `make run`: every notebook -> build/
    python scripts/run_series.py --inplace NB.ipynb    # `make notebooks`: re-execute for a commit

``make run`` writes executed copies and HTML into ``build/`` (the notebooks in
``notebooks/`` stay as they are) and prints a timing table. ``--inplace`` writes
the outputs back into the notebook and stamps it with the mode it ran in and the
versions it ran with (Python, torch, TensorFlow, Keras); commit
notebooks from a full-mode run (``TFPT_QUICK`` unset). Both check every result
with ``nbhygiene`` and record the times in ``docs/timings.json`` (the site's and the
workshop guide's source). PNG outputs are re-encoded losslessly (matplotlib writes RGBA;
an alpha that is opaque everywhere is dropped: the same pixels in about half the bytes).
Honours ``TFPT_QUICK`` and ``TFPT_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import nbhygiene  # noqa: E402
import timings_table  # noqa: E402

TIMINGS = ROOT / "docs" / "timings.json"


def quick() -> bool:
    return os.environ.get("TFPT_QUICK", "").strip().lower() in {"1", "true", "yes", "on"}


def execute(notebook: Path, timeout: int = 1800) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    # The kernel app's own log level: it would warn on every start that its local TCP
    # connection is unencrypted. Errors from the kernel still show.
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   extra_arguments=["--IPKernelApp.log_level=ERROR"],
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    seconds = time.perf_counter() - start
    nb.metadata["tfpt"] = {"quick": quick(), "verified_with": verified_with()}
    coalesce_streams(nb)
    shrink_pngs(nb)
    return nb, seconds


def coalesce_streams(nb: nbformat.NotebookNode) -> int:
    """Join consecutive stdout (or stderr) outputs of a cell into one, as Jupyter shows them:
    a kernel may flush one print in two messages; returns how many were joined."""
    joined = 0
    for cell in nb.cells:
        merged = []
        for output in cell.get("outputs", []):
            last = merged[-1] if merged else None
            if (last is not None and output.get("output_type") == "stream"
                    and last.get("output_type") == "stream" and last["name"] == output["name"]):
                last["text"] += output["text"]
                joined += 1
            else:
                merged.append(output)
        if "outputs" in cell:
            cell["outputs"] = merged
    return joined


def shrink_pngs(nb: nbformat.NotebookNode) -> int:
    """Re-encode every PNG output losslessly (opaque RGBA -> RGB, optimized); returns bytes saved."""
    from PIL import Image

    saved = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if not png:
                continue
            raw = base64.b64decode(png)
            image = Image.open(io.BytesIO(raw))
            if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
                image = image.convert("RGB")
            buffer = io.BytesIO()
            image.save(buffer, "PNG", optimize=True)
            if buffer.tell() < len(raw):
                output["data"]["image/png"] = base64.b64encode(buffer.getvalue()).decode("ascii")
                saved += len(raw) - buffer.tell()
    return saved


def verified_with() -> dict[str, str]:
    """The versions the notebook was executed with (the site shows them on each page)."""
    from importlib.metadata import version

    return {"python": platform.python_version(),
            **{name: version(name) for name in ("torch", "tensorflow", "keras")}}


def record(times: dict[str, float], path: Path = TIMINGS) -> None:
    """Merge this run's seconds into docs/timings.json under full_s or quick_s."""
    table = json.loads(path.read_text()) if path.exists() else {}
    key = "quick_s" if quick() else "full_s"
    for name, seconds in times.items():
        table.setdefault(name, {})[key] = round(seconds, 1)
    path.write_text(json.dumps(dict(sorted(table.items())), indent=2) + "\n")
    if path == TIMINGS:  # the workshop guide shows the same numbers
        timings_table.update(timings=path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="default: every notebooks/NN_*.ipynb")
    parser.add_argument("--inplace", action="store_true",
                        help="write outputs back into the notebooks (for a commit)")
    parser.add_argument("--timings", type=Path, default=TIMINGS, help="where to record the times")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the kernel client's connection warnings, not ours
    try:
        return _run(args)
    finally:
        logging.disable(logging.NOTSET)  # process-wide: tests call main() in-process


def _run(args: argparse.Namespace) -> int:
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    out_dir = ROOT / "build"
    out_dir.mkdir(exist_ok=True)
    mode = "quick" if quick() else "full"
    print(f"{'notebook':<36} {mode + ' mode':>10}  outputs")
    failed, times = [], {}
    for path in notebooks:
        path = path.resolve()
        try:
            nb, seconds = execute(path)
        except Exception as err:  # noqa: BLE001 - keep going: report every broken notebook
            failed.append(path.name)
            print(f"{path.name:<36} {'FAILED':>10}  {type(err).__name__}: {str(err)[-300:]}")
            continue
        target = path if args.inplace else out_dir / path.name
        nbformat.write(nb, target)
        if not args.inplace:
            html, _ = HTMLExporter().from_notebook_node(nb)
            target.with_suffix(".html").write_text(html)
        dirty = [p for p in nbhygiene.problems(target) if not (quick() and "full-mode" in p)]
        times[path.name] = seconds
        print(f"{path.name:<36} {seconds:>8.1f} s  {'clean' if not dirty else dirty[0]}")
        failed += [path.name] if dirty else []
    print(f"{'total':<36} {sum(times.values()):>8.1f} s  -> "
          f"{'notebooks/' if args.inplace else 'build/'}")
    record(times, args.timings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
