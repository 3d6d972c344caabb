"""Fully sharded data parallelism with PyTorch FSDP2 (``fully_shard``), run by mp_run.py (notebook 09).

Each rank stores 1/N of every parameter (rows of each weight) and trains on 1/N of the
batch, as in data parallelism. Before a layer runs, its shards are all-gathered into the
full weight, and freed again after; after backward, the gradients are reduce-scattered:
averaged over the ranks, and each rank keeps only the slice its own shard needs.
"""

from __future__ import annotations

import mp_run
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor.debug import CommDebugMode


def run(args, rank: int, world: int) -> tuple[dict, dict]:
    """One checked step, then ``args.steps`` timed ones; the numbers and the full weights."""
    model = mp_run.make_model(args.sizes, args.seed)
    x, y = mp_run.make_batch(args.sizes, args.batch, args.seed)
    share = args.batch // world
    x, y = x[rank * share:(rank + 1) * share], y[rank * share:(rank + 1) * share]  # my part
    if world > 1:
        mesh = init_device_mesh("cpu", (world,))
        for layer in (model[0], model[2]):
            fully_shard(layer, mesh=mesh)  # one all-gather / reduce-scatter group per layer
        fully_shard(model, mesh=mesh)  # the root: schedules the groups
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    stored = sum(p.to_local().nbytes if world > 1 else p.nbytes for p in model.parameters())

    def step() -> torch.Tensor:
        loss = F.mse_loss(model(x), y)  # the mean over MY images; FSDP averages the gradients
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()  # each rank updates its own shards
        return loss

    counts, counter = CommDebugMode(), mp_run.CountBytes()
    with counts, counter:
        loss = step()
    loss = loss.detach()
    if world > 1:
        dist.all_reduce(loss)  # the loss of the whole batch: the mean of the equal halves
        loss /= world
    full = {name: (p.full_tensor() if world > 1 else p).detach().clone()  # before the timed steps
            for name, p in model.named_parameters()}
    result = {"world": world, "loss": loss.item(), "param_bytes_stored": stored,
              "local_shapes": {n: list(p.to_local().shape) if world > 1 else list(p.shape)
                               for n, p in model.named_parameters()},
              "comm_counts": {str(k): v for k, v in counts.get_comm_counts().items()},
              "collectives": counter.calls, "step_ms": mp_run.median_ms(step, args.steps)}
    return result, full
