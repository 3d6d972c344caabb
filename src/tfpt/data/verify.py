"""SHA-256 checks against a ``SHA256SUMS`` manifest (``sha256sum`` format)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from tfpt.data.readers import open_data_file
from tfpt.errors import TfptError

MANIFEST = "SHA256SUMS"
_LINE = re.compile(r"([0-9a-fA-F]{64})\s+\*?(.+)")  # `sha256sum`: digest, [*]name


class ChecksumError(TfptError, ValueError):
    """A data file's SHA-256 does not match the manifest: truncated, altered or corrupted."""


class ManifestError(ChecksumError):
    """The ``SHA256SUMS`` manifest itself cannot be read: not text, or a line not in its format."""


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (a FIFO or folder is refused, not waited on)."""
    digest = hashlib.sha256()
    with open_data_file(path) as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _manifest_text(path: Path) -> str:
    fix = "restore it from where the data came from, or delete it to use the data unverified"
    with open_data_file(path) as f:
        raw = f.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ManifestError(f"{path} is not a text file (byte {err.start} is not UTF-8): "
                            f"{fix}") from err


def read_manifest(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` from ``root/SHA256SUMS``, or ``{}`` when there is none.

    Raises :class:`ManifestError` for a manifest that is not text or has a line that is
    not ``<64 hex digits>  <path>``, naming the line, instead of guessing what it meant.
    """
    path = root / MANIFEST
    if not os.path.lexists(path):
        return {}
    sums = {}
    for number, line in enumerate(_manifest_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.fullmatch(line.strip())
        if match is None:
            raise ManifestError(
                f"{path} line {number} is not `<sha256>  <file>` ({line.strip()[:60]!r}): fix "
                "or remove that line, or delete the manifest to use the data unverified")
        sums[match[2].strip()] = match[1].lower()
    return sums


def write_manifest(root: Path, sums: dict[str, str]) -> None:
    """Merge ``sums`` into ``root/SHA256SUMS``, written atomically (temp file + rename)."""
    merged = {**read_manifest(root), **sums}
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(merged.items()))
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{MANIFEST}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, root / MANIFEST)


_verified: dict[tuple[str, int, float], str] = {}  # (path, size, mtime) -> sha256, per process


def check_file(root: Path, relative: str, expected: str) -> None:
    """Raise :class:`ChecksumError` unless ``root/relative`` hashes to ``expected``."""
    path = root / relative
    actual = sha256(path) if _cache_key(path) not in _verified else _verified[_cache_key(path)]
    if actual != expected:
        raise ChecksumError(
            f"{path} is corrupted or incomplete: SHA-256 is {actual}, expected {expected} "
            f"(from {root / MANIFEST}). Delete it and load again to re-download, "
            "or restore the file from a good copy."
        )
    _verified[_cache_key(path)] = actual


def _cache_key(path: Path) -> tuple[str, int, float]:
    try:
        info = path.stat()
    except OSError:
        return (str(path), -1, -1.0)  # never cached: sha256() raises the clear error
    return (str(path), info.st_size, info.st_mtime)
