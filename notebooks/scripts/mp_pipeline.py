"""Pipeline parallelism with ``torch.distributed.pipelining``, run by mp_run.py (notebook 09).

Rank 0 holds the first Linear and the ReLU (stage 0), rank 1 the second Linear (stage 1).
``ScheduleGPipe`` cuts the batch into micro-batches: all forwards flow 0 -> 1, then all
backwards 1 -> 0, each stage sending one activation (forward) or one gradient (backward)
per micro-batch. The gradients of the micro-batches add up, divided by their number, to
the gradient of the whole batch. Every forward/backward chunk is timed, for the timeline.
"""

from __future__ import annotations

import time

import mp_run
import torch
import torch.nn.functional as F
from torch.distributed.pipelining import PipelineStage, ScheduleGPipe


def timed(method, events: list, kind: str):
    """Wrap a stage's forward_one_chunk / backward_one_chunk to record (kind, start, end)."""
    def wrapper(*a, **k):
        start = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
        out = method(*a, **k)
        events.append((kind, start, time.perf_counter()))
        return out
    return wrapper


def build(args, rank: int, world: int, m: int, x: torch.Tensor, y: torch.Tensor):
    """This rank's part of a fresh model, a function doing one step on it, and its chunk times."""
    model = mp_run.make_model(args.sizes, args.seed)
    events: list = []
    if world == 1:  # one process: the plain model, for timing
        return model, lambda: mp_run.one_device_step(model, x, y, args.lr), events
    part = model[0:2] if rank == 0 else model[2:]  # nn.Sequential slices share the layers
    stage = PipelineStage(part, rank, world, torch.device("cpu"))  # torch.device(f"cuda:{rank}") on GPUs
    schedule = ScheduleGPipe(stage, n_microbatches=m, loss_fn=F.mse_loss)
    stage.forward_one_chunk = timed(stage.forward_one_chunk, events, "F")
    stage.backward_one_chunk = timed(stage.backward_one_chunk, events, "B")
    optimizer = torch.optim.SGD(part.parameters(), lr=args.lr)

    def step() -> float | None:
        losses: list = []
        optimizer.zero_grad()
        if rank == 0:
            schedule.step(x)  # the first stage feeds the inputs
        else:
            schedule.step(target=y, losses=losses)  # the last one computes the loss
        optimizer.step()
        return torch.stack(losses).mean().item() if losses else None  # equal micro-batches

    return part, step, events


def run(args, rank: int, world: int) -> tuple[dict, dict]:
    """One checked step per micro-batch count (from the same start weights each time)."""
    x, y = mp_run.make_batch(args.sizes, args.batch, args.seed)
    result, tensors = {"world": world, "runs": {}}, {}
    for m in args.microbatches:
        part, step, events = build(args, rank, world, m, x, y)
        counter = mp_run.CountBytes()
        with counter:
            loss = step()
        tensors.update({f"m{m}.{name}": p.detach().clone() for name, p in part.named_parameters()})
        result["runs"][str(m)] = {"loss": loss, "collectives": counter.calls,
                                  "step_ms": mp_run.median_ms(step, args.steps),
                                  "events": events[-2 * m:]}  # the last step: m forwards, m backwards
    return result, tensors
