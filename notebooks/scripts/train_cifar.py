"""A readable CIFAR-10 training script in PyTorch, the kind you copy to a GPU box (notebook 05).

    python scripts/train_cifar.py --epochs 30 --device cuda --out outputs/cifar_script
    python scripts/train_cifar.py --epochs 30 --device cuda --out outputs/cifar_script --resume

Everything is in view: a ``Dataset`` with per-image augmentation (``transforms.v2``),
``DataLoader`` worker processes and pinned memory, ``.to(device, non_blocking=True)``,
the loop, a one-cycle schedule, the best epoch chosen on the validation split, an
atomic checkpoint after every epoch (``--resume`` continues from it) and one test
evaluation at the end. ``tfpt train`` packages the same steps and adds what this script
leaves out: bit-exact resumes (data order and random state), TensorBoard, mixed
precision, the Keras twin, several processes.
"""

import tfpt  # noqa: F401,I001  first, as everywhere

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from tfpt import data
from tfpt.models.torch import FastResNet


class Images(Dataset):
    """uint8 images (N, H, W, C) and labels; item i is (transform(image i), label i)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2)  # NCHW view, no copy
        self.labels = torch.from_numpy(labels)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=4e-3, help="peak of the one-cycle schedule")
    parser.add_argument("--width", type=int, default=64, help="FastResNet width")
    parser.add_argument("--limit", type=int, default=None, help="use only this many training images")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    return parser.parse_args(argv)


def loaders(args: argparse.Namespace, device: torch.device):
    """Train (augmented, shuffled), validation and test DataLoaders."""
    cifar = data.load("cifar10")
    normalize = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(cifar.spec.mean, cifar.spec.std)]
    augment = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(), *normalize])
    plain = v2.Compose(normalize)
    common = dict(num_workers=args.workers, persistent_workers=args.workers > 0,
                  pin_memory=device.type == "cuda")  # page-locked memory: faster, async copies
    return (DataLoader(Images(*cifar.arrays("train", args.limit), augment), args.batch_size,
                       shuffle=True, drop_last=True, **common),
            DataLoader(Images(*cifar.arrays("val"), plain), 500, **common),
            DataLoader(Images(*cifar.arrays("test"), plain), 500, **common))


def train_epoch(model, loader, optimizer, scheduler, device) -> float:
    model.train()
    total = torch.zeros((), device=device)
    for x, y in loader:
        # non_blocking: the copy from pinned memory overlaps with the GPU's work
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.detach()
    return total.item() / len(loader)


@torch.no_grad()
def evaluate(model, loader, device) -> tuple[float, float]:
    model.eval()
    loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = model(x)
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return loss / seen, correct / seen


def save_atomic(obj, path: Path) -> None:
    """Write to a temporary file, then rename: an interrupted save keeps the old file."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    torch.manual_seed(0)
    train, val, test = loaders(args, device)
    model = FastResNet(width=args.width).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=args.epochs * len(train))
    start, best = 0, float("inf")
    if args.resume:
        state = torch.load(args.out / "last.pt", weights_only=True, map_location=device)
        for thing, key in ((model, "model"), (optimizer, "optimizer"), (scheduler, "scheduler")):
            thing.load_state_dict(state[key])
        start, best = state["epoch"], state["best_val_loss"]
        print(f"resumed after epoch {start}")
    for epoch in range(start, args.epochs):
        began = time.perf_counter()
        loss = train_epoch(model, train, optimizer, scheduler, device)
        val_loss, val_acc = evaluate(model, val, device)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss:.4f} val_loss {val_loss:.4f} "
              f"val_acc {val_acc:.4f} ({time.perf_counter() - began:.1f} s)", flush=True)
        if val_loss < best:  # the best epoch is the one with the lowest validation loss
            best = val_loss
            save_atomic(model.state_dict(), args.out / "best.pt")
        save_atomic({"epoch": epoch + 1, "best_val_loss": best, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                    args.out / "last.pt")
    model.load_state_dict(torch.load(args.out / "best.pt", weights_only=True, map_location=device))
    test_loss, test_acc = evaluate(model, test, device)  # once, at the end, on the best model
    print(f"test accuracy {test_acc:.4f} (test loss {test_loss:.4f}) with best.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
