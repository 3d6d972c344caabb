"""The set-up: which Python `make` picks, the one-line refusals, and the lock kept in step.

scripts/setup.sh is run with fake interpreters on PATH (shell scripts that print a version),
so the selection logic is tested without installing anything; the refusal of a real
Python 3.10 runs where pyenv has one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SETUP = REPO / "scripts" / "setup.sh"
PY310 = Path.home() / ".pyenv" / "versions" / "3.10.13" / "bin" / "python3"


def fake_python(folder: Path, name: str, version: str | None) -> Path:
    """An executable that answers the version probe like Python `version` (None: fails to run)."""
    path = folder / name
    body = f'echo "{version}"' if version else "echo 'pyenv: command not found' >&2; exit 127"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def run_setup(step: str, path_dir: Path, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": str(path_dir),  # only the fakes: the machine's own Pythons stay out of sight
            "HOME": os.environ.get("HOME", "/root"), **env}
    return subprocess.run(["/bin/sh", str(SETUP), step], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("versions", "expected"), [
    ({"python3": "3.12", "python3.13": "3.13"}, "python3"),          # python3 first when supported
    ({"python3": "3.10", "python3.12": "3.12", "python3.11": "3.11"}, "python3.12"),  # else the newest
    ({"python3": "3.14", "python3.13": "3.13", "python3.11": "3.11"}, "python3.13"),
    ({"python3": "3.10", "python3.13": None, "python3.11": "3.11"}, "python3.11"),  # a broken shim is skipped
])
def test_make_picks_a_supported_python(tmp_path, versions, expected):
    for name, version in versions.items():
        fake_python(tmp_path, name, version)
    result = run_setup("pick", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_no_supported_python_is_one_line_naming_versions_found_and_how(tmp_path):
    fake_python(tmp_path, "python3", "3.10")
    fake_python(tmp_path, "python3.12", None)
    result = run_setup("pick", tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "3.11, 3.12 or 3.13" in lines[0] and "Python 3.10" in lines[0]
    assert "pyenv" in lines[0] and "uv" in lines[0] and "PYTHON=" in lines[0]


def test_an_unsupported_python_named_by_PYTHON_is_refused(tmp_path):
    fake = fake_python(tmp_path, "python-old", "3.10")
    result = run_setup("pick", tmp_path, PYTHON=str(fake))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "is Python 3.10" in result.stderr


def test_an_existing_venv_on_an_unsupported_python_is_named(tmp_path):
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    fake_python(tmp_path / ".venv" / "bin", "python", "3.10")
    result = run_setup("check", tmp_path, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert ".venv was made with Python 3.10" in result.stderr and "rm -rf .venv" in result.stderr
    fake_python(tmp_path / ".venv" / "bin", "python", "3.12")  # control: a supported one passes
    assert run_setup("check", tmp_path, cwd=tmp_path).returncode == 0


@pytest.mark.skipif(not PY310.exists(), reason="no Python 3.10 here (pyenv install 3.10 to run this)")
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_setup_refuses_a_real_python_310_in_one_line(tmp_path):
    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "scripts", tmp_path / "scripts")
    (tmp_path / "site").mkdir()
    for name in ("package.json", "package-lock.json"):  # a prerequisite of the install stamp
        shutil.copy(REPO / "site" / name, tmp_path / "site" / name)
    result = subprocess.run(["make", "--no-print-directory", "setup", f"PYTHON={PY310}"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert not (tmp_path / ".venv").exists()
    # make's own "make: *** ... Error 1" (make[1]: when the test runs under `make test`) aside:
    errors = [line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?:", line)]
    assert len(errors) == 1 and "Python 3.10" in errors[0], result.stderr
    assert "pip" not in result.stdout.lower()


# --- the lock ------------------------------------------------------------------------------

def pins(requirements: list[str]) -> dict[str, str]:
    found = {}
    for line in requirements:
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)", line.strip().strip('"'))
        if match:
            found[re.sub(r"\[.*\]", "", match[1]).lower().replace("_", "-")] = match[2]
    return found


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return pins(project["dependencies"] + extras["test"] + extras["site"])


def lock_pins(text: str) -> dict[str, str]:
    return pins([line for line in text.splitlines() if not line.startswith((" ", "#"))])


def lock_disagreements(pyproject: dict[str, str], lock: dict[str, str]) -> list[str]:
    return [f"{name}: pyproject {ver}, lock {lock.get(name, 'missing')}"
            for name, ver in pyproject.items() if lock.get(name) != ver]


def test_the_lock_pins_every_pyproject_pin_with_hashes():
    text = (REPO / "requirements.lock").read_text()
    locked = lock_pins(text)
    assert lock_disagreements(pyproject_pins(), locked) == [], "run `make lock` and commit requirements.lock"
    assert len(locked) > 3 * len(pyproject_pins())  # the transitive dependencies are pinned too
    packages = [line for line in text.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
    assert all(line.endswith("\\") for line in packages), "every locked package carries --hash lines"


def test_a_drifted_lock_is_caught():
    text = (REPO / "requirements.lock").read_text().replace("\nkeras==3.15.1 ", "\nkeras==3.15.0 ")
    assert lock_disagreements(pyproject_pins(), lock_pins(text)) == ["keras: pyproject 3.15.1, lock 3.15.0"]


def test_supported_pythons_are_stated_the_same_everywhere():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11,<3.14"
    assert "3.11 3.12 3.13" in SETUP.read_text()
    assert "python>=3.11,<3.14" in (REPO / "environment.yml").read_text()
    for doc in ("README.md", "docs/index.md"):
        assert "Python 3.11–3.13" in (REPO / doc).read_text(), doc
