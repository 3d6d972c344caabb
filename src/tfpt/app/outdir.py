"""The output folder of ``tfpt train``: claimed by one run at a time, checked before training.

- :func:`claim` checks that ``--out`` can be written *before* any data is loaded,
  takes a lock holding the owner's pid (a second run into the same folder is
  refused in one line; the lock of a run that died is released by the operating
  system, so a stale lock file never blocks), and removes the hidden staging
  folders (``.last.pt.*``) that a run killed in the middle of a save left behind.
- :func:`writing` turns a failed write (full disk, read-only, no permission) into
  one line naming the file, the cause and that the previous checkpoint is intact.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tfpt.errors import LockedError, OutputError

LOCK = ".tfpt.lock"
LOCKED_ENV = "TFPT_OUT_LOCKED"  # set by the --nproc launcher for its workers: it holds the lock


def _cause(err: BaseException, folder: Path) -> str:
    code = getattr(err, "errno", None)
    with contextlib.suppress(OSError):
        if code == errno.ENOSPC or shutil.disk_usage(folder).free < 64 * 2**20:
            return "no space left on the device"
    if code is not None:
        return os.strerror(code).lower()
    return str(err).splitlines()[0] if str(err) else type(err).__name__


@contextlib.contextmanager
def writing(path: Path, intact: str) -> Iterator[None]:
    """Raise :class:`OutputError` (one line: file, cause, ``intact``) when writing ``path`` fails.

    PyTorch reports a failed write as a ``RuntimeError`` from its zip writer; any
    other ``RuntimeError`` is a bug and keeps its traceback.
    """
    try:
        yield
    except OSError as err:
        raise OutputError(f"could not write {path}: {_cause(err, path.parent)}; {intact}") from err
    except RuntimeError as err:
        if "inline_container" not in str(err) and "write" not in str(err).lower():
            raise
        raise OutputError(f"could not write {path}: {_cause(err, path.parent)}; {intact}") from err


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".tfpt-probe."):
            pass
    except OSError as err:
        raise OutputError(f"--out {out} cannot be written ({_cause(err, out)}); choose a folder "
                          "you can write to") from err


def _remove_staging(out: Path) -> None:
    """Hidden staging folders of an atomic save that a killed run left behind."""
    for stale in out.glob(".*.*"):
        if stale.is_dir() and stale.name.split(".")[1] in ("last", "best", "metrics"):
            shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def claim(out: str | Path) -> Iterator[None]:
    """Hold ``out`` for this run: writable, locked with this pid, stale staging removed."""
    out = Path(out)
    _check_writable(out)
    if os.environ.get(LOCKED_ENV):  # a worker of a launcher that holds the lock
        yield
        return
    lock = open(out / LOCK, "a+")  # noqa: SIM115 (held for the whole run)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        owner = lock.read().strip() or "unknown"
        lock.close()
        raise LockedError(f"--out {out} is in use by another tfpt train (pid {owner}); wait "
                          "for it to end, or choose another --out") from None
    try:
        with writing(out / LOCK, "nothing was trained yet"):  # a full disk fails here first
            os.ftruncate(lock.fileno(), 0)
            os.pwrite(lock.fileno(), str(os.getpid()).encode(), 0)  # unbuffered: close cannot fail
        _remove_staging(out)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(out / LOCK)
        lock.close()
