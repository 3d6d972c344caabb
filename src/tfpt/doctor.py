"""``tfpt doctor``: what is installed, which devices and data tfpt sees, and what is broken."""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
import sys
from dataclasses import dataclass, field

from tfpt import config
from tfpt._guard import torch_side_loaded

PACKAGES = ("torch", "torchvision", "tensorflow", "keras", "numpy", "tensorboardX")
REQUIRED = ("torch", "tensorflow", "numpy")


@dataclass
class Report:
    """Rows of (section, name, value) plus the problems that make doctor fail."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, section: str, name: str, value: str) -> None:
        self.rows.append((section, name, value))

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines, section = [], None
        for sec, name, value in self.rows:
            if sec != section:
                lines.append(sec)
                section = sec
            lines.append(f"  {name:<13} {value}")
        lines += [f"PROBLEM: {p}" for p in self.problems]
        lines.append("status: OK" if self.ok else f"status: {len(self.problems)} problem(s)")
        return "\n".join(lines)


def _versions(report: Report) -> None:
    report.add("versions", "python", platform.python_version())
    for name in PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
            if name in REQUIRED:
                report.problems.append(
                    f"{name} is not installed: run `make lab` (or `pip install -e .`) in the repository")
        report.add("versions", name, version)


def _devices(report: Report) -> None:
    from tfpt.devices import devices

    try:
        found = devices()
    except Exception as err:  # a broken GPU driver must not hide the rest of the report
        report.problems.append(f"device query failed: {err}")
        return
    for framework, choice in found.items():
        report.add("devices", framework, f"{choice.device:<7} {choice.reason}")


def _data(report: Report) -> None:
    """Each dataset as ``tfpt train`` would load it offline: missing or broken data is a
    problem, with the message train would give (the same checks run)."""
    from tfpt import data
    from tfpt.errors import TfptError

    root = config.data_root()
    shown = config.display_path(root)
    where = f"(…/{root.parent.name}/{root.name})" if shown.startswith("$") else "(default)"
    report.add("data", "root", f"{shown} {where}")
    for name in data.DATASETS:
        try:
            report.add("data", name, data.status(name))
            problem = data.missing_message(name)
        except TfptError as err:  # the data's errors: a bad file, manifest or root
            report.add("data", name, "BROKEN")
            problem = str(err)
        if problem and problem not in report.problems:  # one bad root is one problem
            report.problems.append(problem)


def _modes(report: Report) -> None:
    quick = "on (TFPT_QUICK=1: fewer epochs and images)" if config.is_quick() else "off"
    report.add("modes", "quick mode", quick)
    dynamo_first = torch_side_loaded() or "torch" not in sys.modules
    report.add("modes", "import order", "safe (torch loaded before tensorflow)"
               if dynamo_first else "UNSAFE: tensorflow was imported before tfpt")
    if not dynamo_first:
        report.problems.append("tensorflow was imported before tfpt: put `import tfpt` first")


def doctor() -> Report:
    """Collect the report; nothing is downloaded or changed."""
    report = Report()
    for part in (_versions, _devices, _data, _modes):
        part(report)
    return report
