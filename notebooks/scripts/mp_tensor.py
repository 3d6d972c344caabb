"""Tensor parallelism with PyTorch DTensor, run by mp_run.py (notebook 09).

The first Linear is split by output features (``ColwiseParallel``: rank r holds rows
r*H/N ... of its (H, IN) weight), the second by input features (``RowwiseParallel``):
each rank computes a partial sum of the output, and one all-reduce adds them. Every rank
sees the whole batch.
"""

from __future__ import annotations

import mp_run
import torch
import torch.nn.functional as F
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor.debug import CommDebugMode
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module


def run(args, rank: int, world: int) -> tuple[dict, dict]:
    """One checked step, then ``args.steps`` timed ones; the numbers and the full weights."""
    model = mp_run.make_model(args.sizes, args.seed)
    x, y = mp_run.make_batch(args.sizes, args.batch, args.seed)  # every rank: the whole batch
    if world > 1:
        mesh = init_device_mesh("cpu", (world,))  # "cuda" on GPUs
        parallelize_module(model, mesh, {"0": ColwiseParallel(), "2": RowwiseParallel()})
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)

    def step() -> torch.Tensor:
        loss = F.mse_loss(model(x), y)  # the output is a plain, replicated tensor
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()  # each rank updates its own shards
        return loss

    counts, counter = CommDebugMode(), mp_run.CountBytes()
    with counts, counter:
        loss = step()
    local = {name: list(p.to_local().shape) if world > 1 else list(p.shape)
             for name, p in model.named_parameters()}
    full = {name: (p.full_tensor() if world > 1 else p).detach().clone()  # before the timed steps
            for name, p in model.named_parameters()}
    result = {"world": world, "loss": loss.item(), "local_shapes": local,
              "comm_counts": {str(k): v for k, v in counts.get_comm_counts().items()},
              "collectives": counter.calls, "step_ms": mp_run.median_ms(step, args.steps)}
    return result, full
