"""Data-parallel MNIST with PyTorch DistributedDataParallel: notebook 07's training script.

    torchrun --nproc_per_node 2 scripts/ddp_mnist.py --data DATA.npz --out FOLDER
    python scripts/ddp_mnist.py --data DATA.npz --out FOLDER      # the same, one process

torchrun starts the processes (ranks) and tells each one, through environment
variables, its ``RANK``, the ``WORLD_SIZE`` and where rank 0 listens
(``MASTER_ADDR``, ``MASTER_PORT``). Without them the script runs alone. DATA holds
the normalized training images ``x`` (N, 28, 28, 1) and labels ``y``. Rank 0
writes ``model.pt`` (the weights), ``step1.pt`` (the weights after the first step)
and ``run.json`` (the loss curve and step times) into FOLDER.
"""

import argparse
import json
import os
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def train(args: argparse.Namespace) -> None:
    distributed = "WORLD_SIZE" in os.environ  # set by torchrun
    if distributed:  # gloo on CPUs, NCCL on GPUs; a rank that never answers fails after timeout
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, timeout=timedelta(seconds=60))
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    say = print if rank == 0 else (lambda *a: None)  # one voice: rank 0's
    if rank == 0:
        args.out.mkdir(parents=True, exist_ok=True)

    data = np.load(args.data)
    images = torch.from_numpy(data["x"]).permute(0, 3, 1, 2)  # NHWC -> NCHW
    dataset = TensorDataset(images, torch.from_numpy(data["y"]))
    # Every rank shuffles with the same seed + epoch and keeps its own share, so the
    # ranks never see the same image in one epoch. Each loads global_batch / world.
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True,
                                 seed=args.seed, drop_last=True)
    loader = DataLoader(dataset, batch_size=args.global_batch // world, sampler=sampler)
    say(f"world size {world}, backend {dist.get_backend() if distributed else 'none'}, "
        f"{args.global_batch // world} images per rank per step, global batch {args.global_batch}")

    torch.manual_seed(args.seed)  # the same start in every rank (DDP broadcasts rank 0's anyway)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    if distributed:
        model = DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    plain = model.module if distributed else model  # the model inside the DDP wrapper

    losses, times, step, epoch = [], [], 0, 0
    while step < args.steps:
        sampler.set_epoch(epoch)  # a new shuffle each epoch (forget it: every epoch repeats epoch 0)
        for x, y in loader:
            start = time.perf_counter()
            loss = F.cross_entropy(model(x.to(device)), y.to(device))  # mean over MY images
            optimizer.zero_grad()
            loss.backward()  # DDP averages the gradients of all ranks during backward
            optimizer.step()
            times.append(time.perf_counter() - start)
            losses.append(loss.item())
            step += 1
            if step == 1 and rank == 0:
                torch.save(plain.state_dict(), args.out / "step1.pt")
            if step == args.steps:
                break
        epoch += 1

    curve = torch.tensor(losses, dtype=torch.float64)  # this rank's losses
    say(f"{step} steps, rank 0's loss {curve[0]:.4f} -> {curve[-1]:.4f}")
    if distributed:
        dist.all_reduce(curve)  # sum over the ranks, in place, on every rank...
        curve /= world  # ...divided: the loss over each global batch
        weights = torch.cat([p.detach().reshape(-1) for p in plain.parameters()])
        first = weights.clone()
        dist.broadcast(first, src=0)  # rank 0's weights, sent to every rank
        spread = (weights - first).abs().max()
        dist.all_reduce(spread, op=dist.ReduceOp.MAX)
        say(f"largest weight difference between ranks after {step} steps: {spread:.1e}")
    if rank == 0:  # one writer: N ranks saving the same file would race
        torch.save(plain.state_dict(), args.out / "model.pt")
        (args.out / "run.json").write_text(json.dumps({"world": world, "losses": curve.tolist(),
                                                       "step_ms": [t * 1e3 for t in times]}))
        say("rank 0 wrote model.pt, step1.pt and run.json")
    if distributed:
        dist.barrier()  # nobody leaves while rank 0 is still writing
        dist.destroy_process_group()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--global-batch", type=int, default=128, help="images per step, all ranks")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    train(parse())
