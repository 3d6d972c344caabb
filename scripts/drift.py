"""`make drift`: run the series against the newest releases of its stack, and say what moved.

    python3 scripts/drift.py                  # venv, install, unit tests + notebooks (quick mode)
    python3 scripts/drift.py --no-notebooks   # the unit tests only
    python3 scripts/drift.py --fast           # the unit tests not marked slow (minutes)

Builds ``build/drift-venv`` (a supported Python, chosen as ``make`` chooses it) with every
package of ``pyproject.toml`` *unpinned*, so the resolver takes the newest releases that fit
together, then runs the unit tests and the notebooks in quick mode with DeprecationWarning and
FutureWarning shown. It writes ``build/drift.md``: which versions moved from the lock, which
tests failed (with their verdict lines, where a tolerance was exceeded), and which
deprecation warnings torch, TensorFlow and Keras raised from the series' calls. Not part of
``make test``: the pinned CI run must not depend on what was released this morning.
Needs uv (``pip install uv``) and the network.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
VENV = BUILD / "drift-venv"
REPORT = BUILD / "drift.md"
FRAMEWORKS = ("torch", "tensorflow", "keras")


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, text=True, **kwargs)


def unpinned() -> list[str]:
    """The stack's names without versions (extras kept): what `pip install` would take today."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [re.split(r"[=<>!~;]", req, maxsplit=1)[0].strip()
            for req in project["dependencies"] + extras["test"] + extras["site"]]


def versions(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if match:
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


def build_venv(uv: str) -> dict[str, str]:
    python = run(["sh", "scripts/setup.sh", "pick"], capture_output=True, check=True).stdout.strip()
    shutil.rmtree(VENV, ignore_errors=True)
    run([uv, "venv", "--quiet", "--python", python, str(VENV)], check=True)
    py = str(VENV / "bin" / "python")
    run([uv, "pip", "install", "--quiet", "--python", py, *unpinned()], check=True)
    run([uv, "pip", "install", "--quiet", "--python", py, "--no-deps", "-e", "."], check=True)
    run([py, "-m", "ipykernel", "install", "--user", "--name", "tfpt-drift"], capture_output=True)
    return versions(run([uv, "pip", "freeze", "--python", py], capture_output=True, check=True).stdout)


def run_tests(notebooks: bool, fast: bool = False) -> tuple[str, Path]:
    junit = BUILD / "drift-junit.xml"
    targets = ["tests"] + (["notebooks"] if notebooks else []) + (["-m", "not slow"] if fast else [])
    cmd = [str(VENV / "bin" / "python"), "-m", "pytest", *targets, "-q", "-rfE", "-n", "2",
           "--dist", "loadfile", "-p", "no:cacheprovider", f"--junitxml={junit}",
           # show the warnings instead of failing on them: the report lists them
           "-W", "default::DeprecationWarning", "-W", "default::FutureWarning",
           "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=600",
           "--nbval-sanitize-with", "tests/nbval_sanitize.cfg"]
    env = {**os.environ, "TFPT_QUICK": "1"}
    result = run(cmd, capture_output=True, env=env)
    (BUILD / "drift-pytest.log").write_text(result.stdout + result.stderr)
    return result.stdout, junit


def failures(junit: Path) -> list[tuple[str, str]]:
    if not junit.exists():
        return [("pytest", "no junit report: pytest did not run (see build/drift-pytest.log)")]
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for problem in list(case.findall("failure")) + list(case.findall("error")):
            text = (problem.get("message") or "") + "\n" + (problem.text or "")
            verdicts = [ln.strip() for ln in text.splitlines() if re.search(r"diff|tolerance|atol|rtol", ln)]
            found.append((f"{case.get('classname')}::{case.get('name')}",
                          "; ".join(verdicts[:3]) or text.strip().splitlines()[0][:200]))
    return found


def framework_warnings(output: str) -> Counter:
    """Warnings of pytest's summary raised in the frameworks, or in our code about them."""
    summary = output.split("warnings summary", 1)[-1] if "warnings summary" in output else ""
    line = re.compile(r"^\s*(\S+):\d+: (DeprecationWarning|FutureWarning): (.+)$", re.M)
    names = "|".join(FRAMEWORKS)
    found = Counter()
    for path, category, message in line.findall(summary):
        inside = re.search(rf"site-packages/({names})/", path)
        if inside or re.search(rf"\b({names}|tf)\.", message):
            where = inside[1] if inside else Path(path).name
            found[f"{where}: {category}: {message.strip()[:160]}"] += 1
    return found


def report(moved: dict[str, tuple[str, str]], failed: list[tuple[str, str]], warned: Counter,
           tail: str, scope: str = "unit tests and notebooks (quick mode)") -> str:
    lines = ["# Drift report: the series on the newest releases", "", f"Ran: {scope}.", "",
             f"Headline: {len(moved)} packages newer than the lock, {len(failed)} failing tests, "
             f"{len(warned)} distinct framework deprecation warnings.", "",
             "## Versions that moved (lock -> newest)", ""]
    lines += [f"- {name}: {old} -> {new}" for name, (old, new) in sorted(moved.items())] or ["- none"]
    lines += ["", "## Failing tests (verdict lines: the tolerances that moved)", ""]
    lines += [f"- `{name}`: {why}" for name, why in failed] or ["- none"]
    lines += ["", "## DeprecationWarning / FutureWarning raised by torch, TensorFlow, Keras", ""]
    lines += [f"- ({n}x) {text}" for text, n in warned.most_common()] or ["- none"]
    lines += ["", "## pytest's last line", "", f"    {tail}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-notebooks", action="store_true", help="run the unit tests only")
    parser.add_argument("--fast", action="store_true",
                        help="only the unit tests not marked slow, no notebooks (a first look)")
    args = parser.parse_args(argv)
    venv_uv = ROOT / ".venv" / "bin" / "uv"  # make setup installs uv there when PATH has none
    uv = shutil.which("uv") or (str(venv_uv) if venv_uv.exists() else None)
    if uv is None:
        print("make drift: error: needs uv on PATH: pip install uv", file=sys.stderr)
        return 2
    BUILD.mkdir(exist_ok=True)
    newest = build_venv(uv)
    locked = versions((ROOT / "requirements.lock").read_text())
    moved = {name: (locked[name], ver) for name, ver in newest.items()
             if name in locked and locked[name] != ver}
    notebooks = not (args.no_notebooks or args.fast)
    output, junit = run_tests(notebooks, fast=args.fast)
    tail = (output.strip().splitlines() or ["(no output)"])[-1]
    scope = ("unit tests not marked slow" if args.fast else "unit tests" if not notebooks
             else "unit tests and notebooks (quick mode)")
    REPORT.write_text(report(moved, failures(junit), framework_warnings(output), tail, scope))
    print(REPORT.read_text().split("\n")[4])
    print(f"report: {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
