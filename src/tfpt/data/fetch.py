"""Download a full dataset with torchvision, verify it, and only then move it into place.

Everything is fetched into a temporary folder beside the data root. The archives
are checked against the SHA-256 sums in :mod:`tfpt.data.catalog`; only a
verified, fully extracted folder is renamed into the root, so an interrupted or
corrupted download can never be mistaken for data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tfpt.data.catalog import DatasetSpec
from tfpt.data.verify import ChecksumError, sha256, write_manifest


class DownloadError(RuntimeError):
    """The dataset could not be downloaded (offline, blocked, or no torchvision)."""


def _one_line(err: BaseException, limit: int = 300) -> str:
    """torchvision's download errors run over several lines (one per mirror): join them."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _fetch_with_torchvision(spec: DatasetSpec, into: Path) -> None:
    try:
        import torchvision.datasets as tvd
    except ImportError as err:
        raise DownloadError(
            "downloading needs torchvision (pip install torchvision); "
            "or copy the files in and set TFPT_DATA_DIR"
        ) from err
    cls = getattr(tvd, spec.torchvision_class)
    for train in (True, False):  # torchvision shows a progress bar per file
        cls(root=str(into), train=train, download=True)


def _find(into: Path, file_name: str) -> Path:
    matches = list(into.rglob(file_name))
    if not matches:
        raise DownloadError(f"download finished but {file_name} is missing from it")
    return matches[0]


def download(spec: DatasetSpec, root: Path) -> None:
    """Fetch ``spec`` into ``root`` and add its files to ``root/SHA256SUMS``."""
    target = root / spec.folder
    if target.exists():
        raise DownloadError(
            f"{target} exists but is incomplete; delete it to download {spec.title} again"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f".download-{spec.name}-"))
    except OSError as err:  # read-only, no permission, a file in the way
        raise DownloadError(f"cannot download into {root} ({err.strerror})") from err
    try:
        try:
            _fetch_with_torchvision(spec, staging)
        except (OSError, RuntimeError) as err:  # URLError is an OSError
            raise DownloadError(f"could not download {spec.title}: {_one_line(err)}") from err
        for archive, expected in spec.archives.items():
            path = _find(staging, archive)
            actual = sha256(path)
            if actual != expected:
                path.unlink()
                raise ChecksumError(
                    f"downloaded {archive} has SHA-256 {actual}, expected {expected}; "
                    "the file was deleted. Try again, or download it by hand from the official site."
                )
        extracted = staging / spec.folder
        sums = {f"{spec.folder}/{f}": sha256(extracted / f) for f in spec.files}
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(extracted, target)  # atomic on one filesystem
        write_manifest(root, sums)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
