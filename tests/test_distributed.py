"""Data parallelism (notebook 07): the one-step proofs, `tfpt train --nproc 2`, fail-fast.

Every multi-process test runs its workers through :func:`tfpt.distributed.launch`
or the CLI, under a time limit, so a lost worker fails the test instead of hanging it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tfpt import distributed
from tfpt.app import Config, UsageError, train
from tfpt.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # multi-process runs: each worker imports both frameworks

SMALL = dict(model="MLP", epochs=2, limit=320, val_limit=200, test_limit=200, batch_size=64,
             deterministic=True, log_every=2)


# --- the framework-free part -------------------------------------------------------------

def test_shard_cuts_contiguous_slices_that_rebuild_the_global_batch():
    batch = np.arange(10, 43)  # 33 images over 2 and 3 ranks
    for world in (1, 2, 3):
        parts = [distributed.shard(batch, r, world) for r in range(world)]
        np.testing.assert_array_equal(np.concatenate(parts), batch)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_worker_envs_describe_one_group():
    torch_envs = distributed.worker_envs("torch", 2)
    assert [e["RANK"] for e in torch_envs] == ["0", "1"]
    assert {e["MASTER_PORT"] for e in torch_envs} == {torch_envs[0]["MASTER_PORT"]}
    assert all(e["WORLD_SIZE"] == "2" and int(e["OMP_NUM_THREADS"]) >= 1 for e in torch_envs)
    configs = [json.loads(e["TF_CONFIG"]) for e in distributed.worker_envs("tf", 2)]
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(2)]
    assert configs[0]["cluster"] == configs[1]["cluster"] and len(configs[0]["cluster"]["worker"]) == 2


def test_config_argv_round_trips_through_the_cli():
    cfg = Config(framework="tf", model="MLP", epochs=3, lr=1e-3, limit=256, nproc=2, timeout=30.0,
                 resume=True, out="somewhere/run")
    args = build_parser().parse_args(["train", *cfg.argv()])
    again = Config(**{k: v for k, v in vars(args).items() if k in Config.__dataclass_fields__})
    assert again == cfg


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(nproc=3, batch_size=64), "--batch-size 64 (the global batch) does not split evenly"),
    (dict(nproc=2, compile=True), "--nproc does not combine with --compile"),
    (dict(nproc=2, fast=True), "--compile, --data-on-device, --channels-last"),
])
def test_bad_nproc_combinations_are_usage_errors(tmp_path, kwargs, fragment):
    with pytest.raises(UsageError, match=re.escape(fragment)):
        Config(out=str(tmp_path), **kwargs).check()


def test_notebook_writes_the_worker_scripts_functions_in_view():
    """Notebook 07 shows `distribute` and `make_train_step`; scripts/tf_worker.py runs the same."""
    nb = json.loads((REPO / "notebooks" / "07_distributed.ipynb").read_text())
    cells = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    in_view = _functions(ast.parse("\n".join(line for line in cells.splitlines()
                                             if not line.startswith(("%", "!")))))
    script = _functions(ast.parse((REPO / "notebooks" / "scripts" / "tf_worker.py").read_text()))
    for name in ("distribute", "make_train_step"):
        assert in_view[name] == script[name], f"{name} differs between notebook 07 and tf_worker.py"


def _functions(tree: ast.Module) -> dict[str, str]:
    """Top-level functions by name, without docstrings' quoting style mattering."""
    return {node.name: ast.dump(node) for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_the_framework_halves_are_twins():
    import inspect

    from tfpt.distributed import tf as tf_half
    from tfpt.distributed import torch as torch_half

    # The one documented difference (tests/test_twins.py): torch's fit takes ``amp``; TF's
    # precision is the model's dtype policy.
    only_torch = {"fit": {"amp"}, "make_train_step": {"amp"}}
    assert tf_half.__all__ == torch_half.__all__
    for name in torch_half.__all__:
        torch_params = [p for p in inspect.signature(getattr(torch_half, name)).parameters
                        if p not in only_torch.get(name, set())]
        assert list(inspect.signature(getattr(tf_half, name)).parameters) == torch_params, name


# --- the proofs: one step of 2 replicas x B == one process with 2B -----------------------

TORCH_RANK = """
import tfpt  # noqa: F401
import sys
import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tfpt.distributed import shard, torch as tdist
from tfpt.models import torch as models

group = tdist.setup("cpu", timeout=60)
data, out = np.load(sys.argv[1]), {}
n = len(data["y"])
mine = shard(np.arange(n), group.rank, group.world)  # 17 and 16 images: unequal shares
for dtype in ("float32", "float64"):
    model = models.MnistCNN(dropout=False, dtype=dtype)
    model.load_state_dict(torch.load(f"{sys.argv[2]}/start_{dtype}.pt", weights_only=True))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    step = tdist.make_train_step(DistributedDataParallel(model), optimizer, group)
    step(torch.from_numpy(data["x"][mine]).to(getattr(torch, dtype)), torch.from_numpy(data["y"][mine]), n)
    out[dtype] = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
np.savez(f"{sys.argv[2]}/rank{group.rank}.npz", **out)
tdist.shutdown(group)
"""

TF_WORKER = """
import tfpt  # noqa: F401
import sys
import numpy as np
import keras
import tensorflow as tf
from tfpt.distributed import shard, tf as tfdist
from tfpt.models import keras as models

group = tfdist.setup("cpu", timeout=60)  # MultiWorkerMirroredStrategy from TF_CONFIG
data, out = np.load(sys.argv[1]), {}
n = len(data["y"])
mine = shard(np.arange(n), group.rank, group.world)
for dtype in ("float32", "float64"):
    start = np.load(f"{sys.argv[2]}/start_{dtype}.npz")
    with group.strategy.scope():
        model = models.MnistCNN(dropout=False, dtype=dtype)
        model.set_weights([start[k] for k in start.files])
        optimizer = keras.optimizers.SGD(0.1)
    step = tfdist.make_train_step(model, optimizer, group)
    step(tf.constant(data["x"][mine].transpose(0, 2, 3, 1).astype(dtype)), tf.constant(data["y"][mine]),
         tf.constant(n, tf.int64))
    out[dtype] = np.concatenate([w.reshape(-1) for w in model.get_weights()])
np.savez(f"{sys.argv[2]}/rank{group.rank}.npz", **out)
"""

TOLERANCE = {"float32": 1e-6, "float64": 1e-12}  # round-off of the same sums in another order


def _batch(tmp_path: Path, n: int = 33) -> dict:
    rng = np.random.default_rng(0)
    batch = {"x": rng.normal(size=(n, 1, 28, 28)).astype(np.float32), "y": rng.integers(0, 10, n)}
    np.savez(tmp_path / "batch.npz", **batch)
    return batch


def _run_workers(tmp_path: Path, framework: str, script: str) -> list[dict]:
    (tmp_path / "worker.py").write_text(textwrap.dedent(script))
    distributed.launch([sys.executable, str(tmp_path / "worker.py"), str(tmp_path / "batch.npz"),
                        str(tmp_path)], distributed.worker_envs(framework, 2), tmp_path / "logs",
                       timeout=150)
    return [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(2)]


def _check(ranks: list[dict], reference: dict, updates: dict) -> None:
    for dtype, tol in TOLERANCE.items():
        np.testing.assert_array_equal(ranks[0][dtype], ranks[1][dtype], err_msg="replicas differ")
        np.testing.assert_allclose(ranks[0][dtype], reference[dtype], rtol=0, atol=tol, err_msg=dtype)
        assert updates[dtype] > 1000 * tol  # the step moved the weights far more than the tolerance


@pytest.mark.slow
def test_ddp_step_of_two_ranks_equals_one_process_with_the_global_batch(tmp_path):
    import torch
    import torch.nn.functional as F

    from tfpt.models import torch as models

    batch = _batch(tmp_path)
    reference, updates = {}, {}
    for dtype in TOLERANCE:
        torch.manual_seed(0)
        model = models.MnistCNN(dropout=False, dtype=dtype)
        torch.save(model.state_dict(), tmp_path / f"start_{dtype}.pt")
        before = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        F.cross_entropy(model(torch.from_numpy(batch["x"]).to(getattr(torch, dtype))),
                        torch.from_numpy(batch["y"])).backward()  # the mean over all 33 images
        optimizer.step()
        after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        reference[dtype], updates[dtype] = after.numpy(), float((after - before).abs().max())
    _check(_run_workers(tmp_path, "torch", TORCH_RANK), reference, updates)


@pytest.mark.slow
def test_multiworker_step_of_two_workers_equals_one_process_with_the_global_batch(tmp_path):
    import keras
    import tensorflow as tf

    from tfpt.models import keras as models

    batch = _batch(tmp_path)
    x = batch["x"].transpose(0, 2, 3, 1)  # NHWC
    reference, updates = {}, {}
    for dtype in TOLERANCE:
        keras.utils.set_random_seed(0)
        model = models.MnistCNN(dropout=False, dtype=dtype)
        start = model.get_weights()
        np.savez(tmp_path / f"start_{dtype}.npz", *start)
        with tf.GradientTape() as tape:  # one device, the mean over all 33 images
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                batch["y"], model(x.astype(dtype)), from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        keras.optimizers.SGD(0.1).apply_gradients(zip(grads, model.trainable_variables))
        after = np.concatenate([w.reshape(-1) for w in model.get_weights()])
        reference[dtype] = after
        updates[dtype] = float(np.abs(after - np.concatenate([w.reshape(-1) for w in start])).max())
    _check(_run_workers(tmp_path, "tf", TF_WORKER), reference, updates)


# --- the CLI: tfpt train --nproc 2 -------------------------------------------------------

def _cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfpt", "train", *args], capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy())


def _flags(**kwargs) -> list[str]:
    return Config(**kwargs).argv()


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_nproc_2_trains_like_one_process_and_resumes(tmp_path, framework):
    """Two workers, stopped after epoch 1 and resumed, end where one uninterrupted process ends."""
    out = tmp_path / "two"
    flags = _flags(framework=framework, nproc=2, out=str(out), **SMALL)
    first = _cli(*flags, "--stop-after", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = _cli(*flags, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stdout and "epoch 2/2: loss" in resumed.stdout
    assert "epoch 1/2 step 2/5 loss" in first.stdout  # rank 0's progress lines come through
    assert "stopped after epoch 1 of 2 (--resume continues)" in first.stdout
    assert resumed.stdout.count("test accuracy") == 1  # rank 0 alone talks
    one = train(Config(framework=framework, out=str(tmp_path / "one"), **SMALL))
    two = json.loads((out / "metrics.json").read_text())
    assert two["epochs"] == 2 and two["config"]["nproc"] == 2
    for key in ("loss", "val_loss", "lr"):  # the same batches and steps, float32 round-off apart
        np.testing.assert_allclose(two["history"][key], one["history"][key], rtol=1e-4, err_msg=key)
    suffix = ".pt" if framework == "torch" else ".keras"
    assert {p.name for p in out.iterdir()} == {f"last{suffix}", f"best{suffix}", "metrics.json",
                                               "runs", "logs"}
    events = list((out / "runs").rglob("events.out.tfevents*"))
    assert len(events) == 2  # one per run, both from rank 0
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["rank0.log", "rank1.log"]


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the workers through /proc")
@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_a_killed_worker_fails_the_run_fast_with_one_line(tmp_path, framework):
    out = tmp_path / "run"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "tfpt", "train", *_flags(framework=framework, nproc=2, out=str(out),
                                                         model="MLP", epochs=100, limit=2048,
                                                         batch_size=64, log_every=4)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 150
        for line in launcher.stdout:  # training is under way once rank 0 reports a step
            if " step " in line or time.monotonic() > deadline:
                break
        workers = _children(launcher.pid)
        victim = next(w for w in workers
                      if b"LOCAL_RANK=1\0" in Path(f"/proc/{w}/environ").read_bytes())
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        _, stderr = launcher.communicate(timeout=60)
        seconds = time.monotonic() - killed
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 1 and seconds < 20, (launcher.returncode, seconds, stderr)
    errors = stderr.strip().splitlines()
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert errors[0].startswith("tfpt train: error: rank 1 was killed by SIGKILL"), errors[0]
    assert "rank1.log" in errors[0] and "other rank was stopped" in errors[0]
    assert not [w for w in workers if Path(f"/proc/{w}").exists()], "a worker outlived the run"


@pytest.mark.slow
def test_the_documented_torchrun_c10d_recipe_runs_tfpt_train(tmp_path):
    """README's two-machine PyTorch line, on one machine: c10d rendezvous on 127.0.0.1."""
    port = distributed.free_ports(1)[0]
    out = tmp_path / "c10d"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "t",
           "-m", "tfpt", "train", *_flags(out=str(out), **SMALL)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["config"]["nproc"] == 2
