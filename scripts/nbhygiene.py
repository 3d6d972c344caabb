"""What a committed notebook must not carry, checked the same way by the test and by
``run_series.py`` after it executes a notebook.

A learner reads the outputs as part of the lesson: no machine paths, no TF/absl/CUDA
log lines, no ANSI escapes, no stderr progress fragments, no verdict printed twice,
no error outputs, no prose about the machine the notebook ran on, and at most 300 KB.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

MAX_BYTES = 300_000
MAX_MAIN_CELLS = 60
GOING_DEEPER = re.compile(r"^## Going deeper", re.M)
OUTPUT_RULES = [
    (re.compile(r"(?<![\w.~])/(tmp|work|home|root|Users|opt|usr|var|private|mnt)/"), "a machine path"),
    (re.compile(r"site-packages|ipykernel_\d+"), "a virtualenv or kernel path"),
    (re.compile("\x1b\\["), "ANSI escapes"),
    (re.compile(r"absl::|cudart_stub|CUDA_HOME|oneDNN custom operations|"
                r"^[IWEF]\d{4} \d\d:\d\d:\d\d", re.M), "TF/absl/CUDA log lines"),
    (re.compile(r"\b1 epochs\b"), "'1 epochs'"),
]
PROSE_RULES = [
    (re.compile(r"\bthis (shared |build |development )?(machine|VM|box|laptop)\b", re.I),
     "prose about the machine it ran on"),
    (re.compile(r"\b\d+[- ](CPUs?|cores?)\b", re.I), "prose about the machine's CPU count"),
]
VERDICT = re.compile(r"^(PASS|FAIL) .*$", re.M)


def _text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    return "".join(output.get("data", {}).get("text/plain", ""))


def main_path_cells(nb: dict) -> int:
    """How many cells come before the first '## Going deeper' heading (all, if none)."""
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown" and GOING_DEEPER.search("".join(cell["source"])):
            return i
    return len(nb["cells"])


def problems(path: str | Path) -> list[str]:
    """Every rule a notebook breaks, one line each (empty when it is clean)."""
    path = Path(path)
    found = []
    if path.stat().st_size > MAX_BYTES:
        found.append(f"{path.stat().st_size:,} bytes, over {MAX_BYTES:,}")
    nb = json.loads(path.read_text())
    main_path = main_path_cells(nb)
    if main_path > MAX_MAIN_CELLS:
        found.append(f"main path of {main_path} cells, over {MAX_MAIN_CELLS}: move detours under "
                     f"'## Going deeper' at the end")
    counts = []
    for i, cell in enumerate(nb["cells"]):
        where = f"cell {i}"
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            found += [f"{where}: {why}" for rx, why in PROSE_RULES if rx.search(text)]
            continue
        if cell["cell_type"] != "code":
            continue
        counts.append(cell.get("execution_count"))
        verdicts = []
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                found.append(f"{where}: an error output ({out.get('ename')})")
                continue
            text = _text(out)
            found += [f"{where}: {why}" for rx, why in OUTPUT_RULES if rx.search(text)]
            if out.get("name") == "stderr" and ("\r" in text or re.search(r"\d+%\|", text)):
                found.append(f"{where}: stderr progress fragments")
            verdicts += [m.group(0) for m in VERDICT.finditer(text)]
        doubled = {v for v in verdicts if verdicts.count(v) > 1}
        found += [f"{where}: printed twice: {v[:60]}" for v in sorted(doubled)]
    if any(c is None for c in counts) or counts != sorted(counts):
        found.append("not executed top to bottom in one run (execution counts)")
    stamp = nb.get("metadata", {}).get("tfpt", {})
    if stamp.get("quick", True):
        found.append("not stamped as a full-mode run (metadata tfpt.quick must be false)")
    if set(stamp.get("verified_with", {})) != {"python", "torch", "tensorflow", "keras"}:
        found.append("no verified-with stamp (metadata tfpt.verified_with): re-run it with make notebooks")
    return found


if __name__ == "__main__":
    bad = 0
    for arg in sys.argv[1:]:
        for line in problems(arg):
            print(f"{arg}: {line}")
            bad += 1
    sys.exit(1 if bad else 0)
