"""Project-wide settings read from the environment: quick mode and the data root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

QUICK_ENV = "TFPT_QUICK"
DATA_ENV = "TFPT_DATA_DIR"
# The repository's data/ folder when running from a checkout (src layout).
_REPO_DATA = Path(__file__).resolve().parents[2] / "data"


def is_quick() -> bool:
    """True when ``TFPT_QUICK`` is set to a true value (CI sets ``TFPT_QUICK=1``)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def quick(full: T, small: T) -> T:
    """Pick ``small`` in quick mode and ``full`` otherwise.

    Quick mode trims sizes (epochs, steps, images), never the code path: use it
    for numbers only, e.g. ``epochs = tfpt.quick(full=12, small=1)``.
    """
    return small if is_quick() else full


def data_root() -> Path:
    """The data folder: ``$TFPT_DATA_DIR`` if set, else the repository's ``data/``."""
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override).expanduser().resolve()
    if _REPO_DATA.parent.joinpath("pyproject.toml").exists():
        return _REPO_DATA
    return Path.home() / ".cache" / "tfpt" / "data"


def display_path(path: str | Path) -> str:
    """``path`` as a learner should see it in output: no machine-specific prefix.

    ``$TFPT_DATA_DIR`` when it is that folder, relative to the current folder or to
    the repository when inside them, ``~/...`` under the home folder, else as is.
    """
    path = Path(path).expanduser().resolve()
    override = os.environ.get(DATA_ENV)
    if override and path == Path(override).expanduser().resolve():
        return f"${DATA_ENV}"
    for base in (Path.cwd(), _REPO_DATA.parent):
        if path.is_relative_to(base):
            return str(path.relative_to(base)) or "."
    if path.is_relative_to(Path.home()):
        return "~/" + str(path.relative_to(Path.home()))
    return str(path)
