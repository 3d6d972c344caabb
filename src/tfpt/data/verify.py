"""SHA-256 checks against a ``SHA256SUMS`` manifest (``sha256sum`` format)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

MANIFEST = "SHA256SUMS"


class ChecksumError(ValueError):
    """A data file's SHA-256 does not match the manifest: truncated, altered or corrupted."""


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` from ``root/SHA256SUMS``, or ``{}`` when there is none."""
    path = root / MANIFEST
    if not path.exists():
        return {}
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*").strip()] = digest.lower()
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
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime)
    actual = _verified.get(key) or sha256(path)
    if actual != expected:
        raise ChecksumError(
            f"{path} is corrupted or incomplete: SHA-256 is {actual}, expected {expected} "
            f"(from {root / MANIFEST}). Delete it and load again to re-download, "
            "or restore the file from a good copy."
        )
    _verified[key] = actual
