"""Write the time-per-notebook table of docs/workshop.md from docs/timings.json.

`make run` and `make notebooks` record each notebook's wall time in docs/timings.json
(full and quick mode apart) and call this, so the guide never shows a typed-in number.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "workshop.md"
TIMINGS = ROOT / "docs" / "timings.json"
BLOCK = re.compile(r"<!-- tfpt:timings -->.*?(?=\n\n|\Z)", re.S)


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "not measured yet"
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def table(timings: dict) -> str:
    lines = ["| notebook | full mode | quick mode |", "|---|---|---|"]
    for name, times in sorted(timings.items()):
        lines.append(f"| {name.removesuffix('.ipynb')} | {_minutes(times.get('full_s'))} | "
                     f"{_minutes(times.get('quick_s'))} |")
    return "\n".join(lines)


def update(guide: Path = GUIDE, timings: Path = TIMINGS) -> None:
    """Replace the marked block of the guide with the table (the marker stays)."""
    if not guide.exists() or not timings.exists():
        return
    text = guide.read_text()
    block = "<!-- tfpt:timings -->\n" + table(json.loads(timings.read_text()))
    guide.write_text(BLOCK.sub(lambda _: block, text, count=1))


if __name__ == "__main__":
    update()
    sys.exit(0)
