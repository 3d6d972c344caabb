"""Mark the paired TensorFlow / PyTorch code cells of the series in their cell metadata.

The site (scripts/build_site.py) shows each marked pair as two columns, or as tabs on a
narrow screen. A pair is a TensorFlow-only code cell followed by a PyTorch-only code cell,
directly or with one short markdown note (no heading) between them; the note goes into the
PyTorch column. Each cell of a pair gets ``metadata.tfpt = {"pair": "tf" | "torch",
"pair_id": "NN-k"}``. OVERRIDES below add pairs the heuristic misses or drop false ones.

Only metadata changes: sources and outputs stay byte for byte, so the script runs on
committed, executed notebooks without re-running them. Running it twice changes nothing.

    python scripts/mark_pairs.py [--check] [NOTEBOOK ...]   (default: notebooks/0[1-9]_*.ipynb)
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tokenize
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
KEY = "tfpt"
SIDES = ("tf", "torch")
# Names that only one framework's code uses (01 names TF tensors t_*, PyTorch ones p_*; 03 uses
# *_k and *_t), matched in the code without its comments and strings.
TF = re.compile("|".join([
    r"\b(tf|keras|layers|tensorflow|keras_models|train_keras)\.", r"\b\w+_(tf|keras|k)\b",
    r"\bimport tensorflow\b", r"\bfrom keras\b", r"\bGradientTape\b", r"\bt_[a-z]\w*"]))
TORCH = re.compile("|".join([
    r"\b(torch|nn|F|optim|torchvision|torch_models)\.", r"\b\w+_(pt|torch|t)\b",
    r"\bimport torch\b", r"\bfrom torch\b", r"\bDataLoader\b", r"\.backward\(", r"\.permute\(",
    r"\.view\(", r"\brequires_grad\b", r"\bp_[a-z]\w*"]))
MAX_NOTE_LINES = 6  # a longer markdown cell between two code cells is prose, not a caption

# Explicit decisions the heuristic cannot make, per notebook file stem. "pair": a list of
# (substring of the TF cell, substring of the PyTorch cell) to pair even so; "not": substrings
# of TF cells never to pair with the cell after them.
OVERRIDES: dict[str, dict[str, list]] = {}


def code_only(source: str) -> str:
    """The cell's code without comments and string literals (which may name the other side)."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tokens = tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline)
        code = " ".join(t.string for t in tokens
                        if t.type not in (tokenize.COMMENT, tokenize.STRING)
                        and not t.type == getattr(tokenize, "FSTRING_MIDDLE", -1))
        return re.sub(r" ?([.(]) ?", r"\1", code)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return re.sub(r"#.*", "", source)


def side(cell) -> str | None:
    """"tf" or "torch" for a code cell that uses one framework only, else None."""
    if cell.cell_type != "code":
        return None
    code = code_only(cell.source)
    uses_tf, uses_torch = bool(TF.search(code)), bool(TORCH.search(code))
    return "tf" if uses_tf and not uses_torch else "torch" if uses_torch and not uses_tf else None


def is_note(cell) -> bool:
    """A short markdown caption between the two halves of a pair (no heading)."""
    return (cell.cell_type == "markdown" and len(cell.source.splitlines()) <= MAX_NOTE_LINES
            and not re.search(r"^\s*#", cell.source, re.MULTILINE))


def _forced(cells, rules: list) -> list[tuple[int, int]]:
    """Index pairs named by explicit (TF substring, PyTorch substring) overrides."""
    found = []
    for tf_text, torch_text in rules:
        tf_at = [i for i, c in enumerate(cells) if c.cell_type == "code" and tf_text in c.source]
        torch_at = [i for i, c in enumerate(cells) if c.cell_type == "code" and torch_text in c.source]
        if len(tf_at) != 1 or len(torch_at) != 1 or torch_at[0] <= tf_at[0]:
            raise SystemExit(f"error: override ({tf_text!r}, {torch_text!r}) must name one TF "
                             "cell and one later PyTorch cell: fix OVERRIDES in mark_pairs.py")
        found.append((tf_at[0], torch_at[0]))
    return found


def find_pairs(nb, stem: str = "") -> list[tuple[int, int]]:
    """(TF cell index, PyTorch cell index) of every pair, in order."""
    rules = OVERRIDES.get(stem, {})
    never = rules.get("not", [])
    cells, pairs, i = nb.cells, [], 0
    forced = dict(_forced(cells, rules.get("pair", [])))
    while i < len(cells):
        if i in forced:
            pairs.append((i, forced[i]))
            i = forced[i] + 1
            continue
        j = i + 1
        if j < len(cells) and is_note(cells[j]):
            j += 1
        if (side(cells[i]) == "tf" and j < len(cells) and side(cells[j]) == "torch"
                and not any(text in cells[i].source for text in never)):
            pairs.append((i, j))
            i = j + 1
        else:
            i += 1
    return pairs


def unmarked_pairs(nb, stem: str = "") -> list[int]:
    """Indices of TF cells that start a pair but carry no pair marking (for the test)."""
    return [i for i, j in find_pairs(nb, stem)
            if (nb.cells[i].metadata.get(KEY) or {}).get("pair") != "tf"
            or (nb.cells[j].metadata.get(KEY) or {}).get("pair") != "torch"]


def mark(nb, stem: str) -> int:
    """Rewrite the pair metadata of ``nb`` in place; return the number of pairs."""
    prefix = stem[:2]
    for cell in nb.cells:
        meta = cell.metadata.get(KEY)
        if isinstance(meta, dict):
            meta.pop("pair", None)
            meta.pop("pair_id", None)
            if not meta:
                del cell.metadata[KEY]
    pairs = find_pairs(nb, stem)
    for k, (i, j) in enumerate(pairs, 1):
        for index in range(i, j + 1):
            pair = "tf" if index == i else "torch"
            nb.cells[index].metadata.setdefault(KEY, {}).update(pair=pair, pair_id=f"{prefix}-{k}")
    return len(pairs)


def process(path: Path, check: bool) -> tuple[int, bool]:
    """Mark one notebook file; return (pairs, whether the file changed or would change)."""
    raw = path.read_text(encoding="utf-8")
    nb = nbformat.reads(raw, as_version=4)
    count = mark(nb, path.stem)
    new = nbformat.writes(nb) + "\n"
    changed = new != raw
    if changed and not check:
        path.write_text(new, encoding="utf-8")
    return count, changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if any notebook's markings are out of date")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("0[1-9]_*.ipynb"))
    stale = []
    for path in paths:
        count, changed = process(path, args.check)
        print(f"{path.name}: {count} pairs" + (" (out of date)" if changed and args.check
                                                else " (updated)" if changed else ""))
        stale += [path.name] if changed else []
    if args.check and stale:
        print(f"mark_pairs: error: markings out of date in {', '.join(stale)}: run "
              "`python scripts/mark_pairs.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
