"""What tfpt knows about each dataset: files, official sizes, classes, archive checksums."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetSpec:
    """Static facts about one dataset, in torchvision's on-disk layout."""

    name: str
    title: str
    folder: str  # relative to the data root, as torchvision lays it out
    files: tuple[str, ...]  # relative to ``folder``; what the reader needs
    full_train: int
    full_test: int
    image_shape: tuple[int, int, int]  # H, W, C
    classes: tuple[str, ...]
    mean: tuple[float, ...]  # per-channel, on images scaled to [0, 1]
    std: tuple[float, ...]
    torchvision_class: str
    archives: dict[str, str]  # archive file name -> SHA-256 of the official download
    citation: str


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    folder="MNIST/raw",
    files=(
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ),
    full_train=60_000,
    full_test=10_000,
    image_shape=(28, 28, 1),
    classes=tuple(str(d) for d in range(10)),
    mean=(0.1307,),
    std=(0.3081,),
    torchvision_class="MNIST",
    archives={
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    citation="MNIST: Y. LeCun, C. Cortes, C.J.C. Burges (CC BY-SA 3.0)",
)

CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10",
    folder="cifar-10-batches-py",
    files=tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta"),
    full_train=50_000,
    full_test=10_000,
    image_shape=(32, 32, 3),
    classes=("airplane", "automobile", "bird", "cat", "deer",
             "dog", "frog", "horse", "ship", "truck"),
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
    torchvision_class="CIFAR10",
    archives={
        "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    },
    citation=("CIFAR-10: A. Krizhevsky, V. Nair, G. Hinton, "
              "'Learning Multiple Layers of Features from Tiny Images', 2009"),
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (MNIST, CIFAR10)}
_ALIASES = {"cifar-10": "cifar10", "cifar_10": "cifar10"}


class UnknownDatasetError(ValueError):
    """Raised for a dataset name tfpt does not know."""


def get_spec(name: str) -> DatasetSpec:
    """Look a dataset up by name (case-insensitive); unknown names list the valid ones."""
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in DATASETS:
        raise UnknownDatasetError(
            f"unknown dataset {name!r}: tfpt knows {', '.join(sorted(DATASETS))}"
        )
    return DATASETS[key]
