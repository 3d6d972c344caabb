"""Data-parallel training, the parts that import neither framework. Built in notebook 07.

- :func:`shard`: this rank's contiguous slice of a global batch, so that N processes
  with B/N images each see exactly the batches of one process with B;
- :func:`rank`, :func:`in_group`: which process of a group this one is, from the
  environment a launcher set (``RANK``/``WORLD_SIZE`` from torchrun, ``TF_CONFIG``);
- :func:`free_ports`, :func:`tf_config`, :func:`worker_envs`: what to give each worker;
- :func:`launch`: start the workers on this machine and **fail fast**: when one
  exits non-zero, stop the others and raise :class:`WorkerFailed` with one line
  (which rank, its exit code, where its log is) instead of hanging in a collective.

The framework halves are twins: :mod:`tfpt.distributed.torch` (DDP) and
:mod:`tfpt.distributed.tf` (``MultiWorkerMirroredStrategy``).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tfpt.config import display_path
from tfpt.errors import UsageError

__all__ = ["Group", "GroupResult", "WorkerFailed", "free_ports", "in_group", "launch", "rank", "shard",
           "tf_config", "worker_envs"]


@dataclass(frozen=True)
class Group:
    """This process's place in a data-parallel group: rank, number of replicas, device.

    ``strategy`` is TensorFlow's ``tf.distribute`` strategy (None for PyTorch).
    One process alone is rank 0 of 1.
    """

    rank: int
    world: int
    device: str
    strategy: Any = None


class WorkerFailed(RuntimeError):
    """A worker of a group died; the message is one line and ``exit_code`` the status to exit with."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def shard(batch: np.ndarray, rank: int, world: int) -> np.ndarray:
    """Rank ``rank``'s contiguous slice of one global batch of indices (sizes differ by at most 1)."""
    n = len(batch)
    return batch[rank * n // world:(rank + 1) * n // world]


def _tf_task() -> tuple[int, int] | None:
    """(task index, number of workers) from ``TF_CONFIG``, or None when it is not set."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        config = json.loads(raw)
        return int(config["task"]["index"]), len(config["cluster"].get("worker", []))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise UsageError(f"TF_CONFIG is not the JSON of a TensorFlow cluster with a task index "
                         f"({type(err).__name__}: {err}); unset it to train in one process") from None


def _env_int(name: str, default: str) -> int:
    """A launcher's whole-number variable (torchrun's ``WORLD_SIZE``, ``RANK``)."""
    raw = os.environ.get(name, default)
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a whole number (launchers such as torchrun set "
                         f"it); unset it to train in one process") from None


def in_group(framework: str) -> bool:
    """Whether a launcher started this process as one worker of several for ``framework``."""
    if framework == "torch":
        return _env_int("WORLD_SIZE", "1") > 1
    task = _tf_task()
    return task is not None and task[1] > 1


def rank() -> int:
    """This process's rank (torchrun's ``RANK``, else the ``TF_CONFIG`` task index); 0 when alone."""
    if "RANK" in os.environ:
        return _env_int("RANK", "0")
    task = _tf_task()
    return task[0] if task else 0


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports nothing listens on right now (the OS picks them for port 0)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(hosts: list[str], index: int) -> str:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of ``hosts`` ("host:port" each)."""
    return json.dumps({"cluster": {"worker": list(hosts)}, "task": {"type": "worker", "index": index}})


def worker_envs(framework: str, nproc: int) -> list[dict[str, str]]:
    """One environment per local worker: torchrun's variables for torch, ``TF_CONFIG`` for tf.

    Fresh ports every call. Each torch worker gets its share of the CPU cores as
    OpenMP threads: more busy threads than cores slows every rank down.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    base = {**os.environ, "PYTHONUNBUFFERED": "1", "LOCAL_WORLD_SIZE": str(nproc)}
    if framework == "torch":
        port = free_ports(1)[0]
        base.setdefault("OMP_NUM_THREADS", str(max(1, (cores or 1) // nproc)))
        return [{**base, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": str(nproc),
                 "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)} for r in range(nproc)]
    hosts = [f"127.0.0.1:{p}" for p in free_ports(nproc)]
    return [{**base, "LOCAL_RANK": str(r), "TF_CONFIG": tf_config(hosts, r)} for r in range(nproc)]


@dataclass
class GroupResult:
    """How a group of workers ended: exit codes, seconds, and the first failure if any."""

    returncodes: list[int | None]
    seconds: float
    logs: list[Path]
    failed_rank: int | None = None
    failed_after: float | None = None  # seconds from the start until that rank was seen dead
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and all(rc == 0 for rc in self.returncodes)


def launch(command: list[str], envs: list[dict[str, str]], log_dir: str | Path,
           timeout: float | None = None, grace: float = 3.0, echo: int | None = 0,
           poll: float = 0.1) -> GroupResult:
    """Run ``command`` once per environment in ``envs`` and wait; raise :class:`WorkerFailed`.

    Worker ``r`` writes stdout and stderr to ``log_dir/rank{r}.log``; the stdout of
    worker ``echo`` is also shown here, line by line. When a worker exits non-zero,
    the others get ``grace`` seconds to stop by themselves, then are killed; so are
    all of them after ``timeout`` seconds, or when this process is interrupted.
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    logs = [log_dir / f"rank{r}.log" for r in range(len(envs))]
    files = [open(path, "w") for path in logs]
    start = time.monotonic()
    procs, echoes = [], []
    try:
        for r, (env, log) in enumerate(zip(envs, files)):
            procs.append(subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE if r == echo else log, stderr=log,
                text=True, start_new_session=True,  # its own process group: killed as a unit
                preexec_fn=_die_with_parent))
        if echo is not None:
            echoes.append(threading.Thread(target=_tee, args=(procs[echo].stdout, files[echo]),
                                           daemon=True))
            echoes[0].start()
        result = _watch(procs, start, timeout, grace, poll)
    except BaseException:  # Ctrl-C or a bug here: never leave workers behind
        for p in procs:
            _kill(p)
        for p in procs:
            p.wait()
        raise
    finally:
        for t in echoes:
            t.join(timeout=5)
        for f in files:
            f.close()
    result.logs = logs
    if not result.ok:
        raise WorkerFailed(*_failure_message(result))
    return result


def _watch(procs: list[subprocess.Popen], start: float, timeout: float | None, grace: float,
           poll: float) -> GroupResult:
    """Wait for every worker; after the first failure or the timeout, kill the rest."""
    result = GroupResult([None] * len(procs), 0.0, [])
    deadline = None if timeout is None else start + timeout
    while True:
        codes = [p.poll() for p in procs]
        now = time.monotonic()
        if result.failed_rank is None:
            bad = [r for r, rc in enumerate(codes) if rc not in (None, 0)]
            if bad:
                result.failed_rank, result.failed_after = bad[0], now - start
                deadline = min(deadline or now + grace, now + grace)
        if all(rc is not None for rc in codes):
            break
        if deadline is not None and now > deadline:
            result.timed_out = result.failed_rank is None
            for p in procs:
                _kill(p)
            break
        time.sleep(poll)
    result.returncodes = [p.wait() for p in procs]
    result.seconds = time.monotonic() - start
    return result


def _failure_message(result: GroupResult) -> tuple[str, int]:
    """One line for the console, and the exit status: a worker's own usage error keeps its 2."""
    if result.timed_out:
        return (f"the workers did not finish within the time limit ({result.seconds:.0f} s) and "
                f"were stopped; logs: {display_path(result.logs[0].parent)}"), 1
    r = result.failed_rank
    code = result.returncodes[r]
    text = result.logs[r].read_text(errors="replace")
    marker = "tfpt train: error: "
    if code == 2 and marker in text:  # the worker's own one-line error (bad input): pass it on
        return text[text.rindex(marker) + len(marker):].strip() + f" (rank {r})", 2
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    others = "the other rank was" if len(result.returncodes) == 2 else "the other ranks were"
    return (f"rank {r} {how} {result.failed_after:.1f} s into the run; {others} stopped; "
            f"its log: {display_path(result.logs[r])}"), 1


def _tee(stream, log) -> None:
    """Copy a worker's stdout to this process's stdout and to its log, line by line."""
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()
        log.write(line)
        log.flush()


# Looked up once here: after fork(), the child should only make the call.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child, before exec: Linux SIGKILLs it when the launcher dies (no orphans)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL a worker started with its own session, and anything it started."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
