"""Notebook 09's model-parallel runs: one launch, then tensor, fully sharded and pipeline parallel.

    torchrun --standalone --nproc_per_node 2 scripts/mp_run.py tensor fsdp pipeline --out FOLDER
    python scripts/mp_run.py tensor --out FOLDER     # one process: the plain model, for timing

The techniques live in mp_tensor.py, mp_fsdp.py and mp_pipeline.py; this file holds what
they share: the model, the batch, the one-device step, joining the group, a byte counter
for collectives, and writing FOLDER/<technique>/rank<r>.json and rank<r>.pt.

Every rank builds the same model from the same seed, so the ranks (and the notebook's
one-device reference) start from identical weights without sending any.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

# the collective and point-to-point operations every torch.distributed call ends in
COLLECTIVES = {"allreduce_", "_allgather_base_", "allgather_", "_reduce_scatter_base_", "reduce_scatter_",
               "broadcast_", "send", "recv_", "all_reduce", "all_gather_into_tensor",
               "reduce_scatter_tensor", "allgather_into_tensor_coalesced_",
               "reduce_scatter_tensor_coalesced_"}


def parse(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """The options all three scripts take."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("techniques", nargs="*", default=["tensor", "fsdp", "pipeline"],
                        help="which of mp_tensor / mp_fsdp / mp_pipeline to run, in this order")
    parser.add_argument("--out", type=Path, required=True, help="FOLDER/<technique>/rank<r>.json, .pt")
    parser.add_argument("--sizes", type=int, nargs=3, default=[16, 32, 8], metavar=("IN", "HIDDEN", "OUT"))
    parser.add_argument("--batch", type=int, default=8, help="the global batch of one step")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=0, help="extra steps, timed, after the checked one")
    parser.add_argument("--microbatches", type=int, nargs="+", default=[2], help="pipeline only")
    return parser.parse_args(argv)


def make_model(sizes: list[int], seed: int) -> nn.Sequential:
    """Linear -> ReLU -> Linear, the same weights in every process for the same seed."""
    torch.manual_seed(seed)
    d_in, hidden, d_out = sizes
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


def make_batch(sizes: list[int], batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and regression targets of one global batch."""
    g = torch.Generator().manual_seed(seed + 1)
    return torch.randn(batch, sizes[0], generator=g), torch.randn(batch, sizes[2], generator=g)


def one_device_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
    """The reference: one SGD step on the whole batch, in one process; returns the loss."""
    loss = F.mse_loss(model(x), y)
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=lr).step()
    return loss.item()


def join() -> tuple[int, int]:
    """Join torchrun's group (gloo, 30 s timeout: a lost peer fails fast); alone: rank 0 of 1."""
    if "WORLD_SIZE" not in os.environ:
        return 0, 1
    dist.init_process_group("gloo", timeout=timedelta(seconds=30))
    return dist.get_rank(), dist.get_world_size()


class CountBytes(TorchDispatchMode):
    """Record every collective this rank runs: its name and the bytes of the largest tensor it
    touches (the full buffer of an all-reduce, an all-gather's output, a reduce-scatter's input,
    the tensor a send/recv moves)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._overloadpacket.__name__
        if name in COLLECTIVES:
            flat = [a for arg in args for a in (arg if isinstance(arg, (list, tuple)) else [arg])]
            flat = [t for a in flat for t in (a if isinstance(a, (list, tuple)) else [a])]
            sizes = [t.nelement() * t.element_size() for t in flat if isinstance(t, torch.Tensor)]
            self.calls.append((name, max(sizes, default=0)))
        return func(*args, **(kwargs or {}))


def median_ms(step, steps: int) -> float | None:
    """Median wall time of ``step()`` over ``steps`` calls, in ms (None for 0 steps)."""
    times = []
    for _ in range(steps):
        if dist.is_initialized():
            dist.barrier()  # start together: the slower rank sets the pace anyway
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2] if times else None


def save(out: Path, rank: int, result: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Write this rank's numbers (JSON) and tensors (read back with weights_only=True)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{rank}.json").write_text(json.dumps(result, indent=1))
    torch.save({k: v.detach().clone() for k, v in tensors.items()}, out / f"rank{rank}.pt")


def main(argv: list[str] | None = None) -> None:
    """Join once, run each technique's ``run(args, rank, world)`` in turn, save, leave.

    One launch for all three: each process spends seconds importing torch, more than the
    steps take."""
    import importlib

    args = parse(__doc__.splitlines()[0], argv)
    rank, world = join()
    for name in args.techniques:
        result, tensors = importlib.import_module(f"mp_{name}").run(args, rank, world)
        save(args.out / name, rank, result, tensors)
    if dist.is_initialized():
        dist.barrier()  # nobody leaves while another rank still writes
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
