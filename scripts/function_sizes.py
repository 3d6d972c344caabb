"""Functions in src/tfpt longer than 50 lines or with more than 8 parameters (issue 16's rule).

``python scripts/function_sizes.py`` prints each offender; tests/test_twins.py runs the check.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "tfpt"
MAX_LINES, MAX_PARAMS = 50, 8
EXEMPT = {"cli.py:build_parser"}  # the argparse table: one add_argument per line


def offenders(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            where = f"{path.relative_to(root)}:{node.name}"
            if where in EXEMPT:
                continue
            args = node.args
            params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs
                      if a.arg not in ("self", "cls")]
            body = node.body[1:] if ast.get_docstring(node) else node.body
            lines = (body[-1].end_lineno - body[0].lineno + 1) if body else 0
            if lines > MAX_LINES:
                found.append(f"{where}: {lines} lines")
            if len(params) > MAX_PARAMS:
                found.append(f"{where}: {len(params)} parameters")
    return found


if __name__ == "__main__":
    problems = offenders()
    print("\n".join(problems) or "every function within 50 lines and 8 parameters")
    sys.exit(1 if problems else 0)
