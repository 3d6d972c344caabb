"""pytest set-up shared by the unit tests and the nbval notebook run.

- TF's C++ logging is quieted before any kernel or test imports TensorFlow.
- nbval never compares stderr (warnings carry temp paths, TF logs vary).
- After the run it prints how many unit tests and notebook cells ran, and fails
  the run when a notebook that was asked for executed no cell at all.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Kernels are child processes: they inherit os.environ, not pytest's sys.path.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "agg")

_passed: Counter = Counter()  # file -> passed calls
_failed: Counter = Counter()
_empty_notebooks: list[str] = []


def pytest_collectstart(collector):
    if str(getattr(collector, "path", "")).endswith(".ipynb"):
        collector.skip_compare += ("stderr",)


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome == "failed":
        file = report.nodeid.split("::")[0]
        (_passed if report.passed else _failed)[file] += 1


def _requested_notebooks(config) -> list[str]:
    found = set()
    for arg in config.args:
        path = (Path(config.invocation_params.dir) / arg.split("::")[0]).resolve()
        if path.suffix == ".ipynb":
            found.add(path)
        elif path.is_dir():
            found.update(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return sorted(os.path.relpath(p, config.rootpath) for p in found)


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):  # xdist worker: the controller decides
        return
    if not session.config.getoption("nbval_lax", default=False):
        return
    _empty_notebooks[:] = [nb for nb in _requested_notebooks(session.config)
                           if _passed[nb] + _failed[nb] == 0]
    if _empty_notebooks and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    cells = {f: n for f, n in _passed.items() if f.endswith(".ipynb")}
    units = sum(n for f, n in _passed.items() if not f.endswith(".ipynb"))
    tr = terminalreporter
    tr.section("tfpt summary")
    tr.write_line(f"unit tests passed: {units}")
    tr.write_line(f"notebook cells passed: {sum(cells.values())} in {len(cells)} notebook(s)")
    for nb, n in sorted(cells.items()):
        tr.write_line(f"  {nb}: {n} cells")
    for nb in _empty_notebooks:
        tr.write_line(f"FAILED: {nb} executed no cells (is it empty, or was it never collected?)",
                      red=True)
