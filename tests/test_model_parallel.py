"""Notebook 09's model-parallel techniques, each one step proven equal to the one-device step.

PyTorch: tensor parallel (DTensor), FSDP2 and pipeline (GPipe) in one torchrun launch of
notebooks/scripts/mp_run.py with 2 processes; manual placement in this process. TensorFlow:
manual placement and DTensor need 2 logical CPUs, configured before TensorFlow initialises
its devices, so they run in a fresh subprocess. Every launch has a timeout, so a hang fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tfpt  # noqa: F401  (first: makes importing TensorFlow and PyTorch together safe)

# isort: split
import torch

pytestmark = pytest.mark.slow  # two-process gloo runs

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "notebooks" / "scripts"
SIZES, BATCH, LR = [16, 32, 8], 8, 0.1
TOL = 1e-6  # float32 sums in another order move weights by ~1e-8; the step moves them by ~1e-2


@pytest.fixture(scope="module")
def mp_run():
    sys.path.insert(0, str(SCRIPTS))
    import mp_run

    yield mp_run
    sys.path.remove(str(SCRIPTS))


@pytest.fixture(scope="module")
def reference(mp_run):
    """The one-device step: loss and weights after it."""
    model = mp_run.make_model(SIZES, 0)
    x, y = mp_run.make_batch(SIZES, BATCH, 0)
    loss = mp_run.one_device_step(model, x, y, LR)
    return loss, {n: p.detach() for n, p in model.named_parameters()}


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One torchrun launch, 2 processes, all three techniques; the output folder."""
    out = tmp_path_factory.mktemp("mp")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(SCRIPTS / "mp_run.py"), "tensor", "fsdp", "pipeline", "--out", str(out),
               "--sizes", *map(str, SIZES), "--batch", str(BATCH), "--lr", str(LR),
               "--microbatches", "1", "2", "4"]
    result = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=SCRIPTS,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _load(out: Path, technique: str) -> list[tuple[dict, dict]]:
    folder = out / technique
    return [(json.loads((folder / f"rank{r}.json").read_text()),
             torch.load(folder / f"rank{r}.pt", weights_only=True)) for r in range(2)]


def _assert_weights(weights: dict, ref: dict, rename=lambda n: n) -> None:
    assert weights, "no weights saved"
    for name, value in weights.items():
        diff = (value - ref[rename(name)]).abs().max().item()
        assert diff <= TOL, f"{name}: {diff:.1e} from the one-device step"


def test_tensor_parallel_equals_one_device(two_ranks, reference):
    loss_ref, ref = reference
    for result, weights in _load(two_ranks, "tensor"):
        assert abs(result["loss"] - loss_ref) <= TOL
        _assert_weights(weights, ref)
        assert result["local_shapes"]["0.weight"] == [SIZES[1] // 2, SIZES[0]]  # rows of W1
        assert result["local_shapes"]["2.weight"] == [SIZES[2], SIZES[1] // 2]  # columns of W2
        assert result["collectives"] == [["all_reduce", BATCH * SIZES[2] * 4]]


def test_fsdp_equals_one_device_and_stores_half(two_ranks, reference):
    loss_ref, ref = reference
    total = sum(p.nbytes for p in ref.values())
    layer1, layer2 = (SIZES[0] + 1) * SIZES[1] * 4, (SIZES[1] + 1) * SIZES[2] * 4
    for result, weights in _load(two_ranks, "fsdp"):
        assert abs(result["loss"] - loss_ref) <= TOL
        _assert_weights(weights, ref)
        assert 2 * result["param_bytes_stored"] == total
        assert [n for _, n in result["collectives"]] == [layer1, layer2, layer2, layer1, layer2, layer1]


def test_pipeline_equals_one_device(two_ranks, reference):
    loss_ref, ref = reference
    (r0, w0), (r1, w1) = _load(two_ranks, "pipeline")
    for m in ("1", "2", "4"):
        assert abs(r1["runs"][m]["loss"] - loss_ref) <= TOL
        assert len(r0["runs"][m]["events"]) == 2 * int(m)  # m forwards, m backwards
    _assert_weights(w0, ref, lambda n: n.split(".", 1)[1])  # m2.0.weight -> 0.weight
    _assert_weights(w1, ref, lambda n: "2." + n.split(".", 2)[2])  # stage 1's 0 is the model's 2


def test_manual_placement_is_bit_equal(mp_run, reference):
    from torch import nn

    loss_ref, ref = reference
    net = mp_run.make_model(SIZES, 0)
    dev0 = dev1 = torch.device("cpu")  # cuda:0 / cuda:1 on a machine with two GPUs

    class Split(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = net[0:2].to(dev0), net[2:].to(dev1)

        def forward(self, x):
            return self.b(self.a(x.to(dev0)).to(dev1))

    x, y = mp_run.make_batch(SIZES, BATCH, 0)
    assert mp_run.one_device_step(Split(), x, y, LR) == loss_ref
    for name, p in net.named_parameters():
        assert torch.equal(p.detach(), ref[name]), name


TF_CHILD = textwrap.dedent("""
    import json
    import tfpt
    import numpy as np
    import tensorflow as tf
    from tensorflow.experimental import dtensor

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    rng = np.random.default_rng(0)
    W1, B1 = rng.normal(0, 0.3, (16, 32)).astype(np.float32), rng.normal(0, 0.3, 32).astype(np.float32)
    W2, B2 = rng.normal(0, 0.3, (32, 8)).astype(np.float32), rng.normal(0, 0.3, 8).astype(np.float32)
    X, Y = rng.normal(size=(8, 16)).astype(np.float32), rng.normal(size=(8, 8)).astype(np.float32)

    def step(variables, x, y, where=("/CPU:0", "/CPU:0")):
        with tf.GradientTape() as tape:
            with tf.device(where[0]):
                h = tf.nn.relu(x @ variables[0] + variables[1])
            with tf.device(where[1]):
                loss = tf.reduce_mean((h @ variables[2] + variables[3] - y) ** 2)
        for v, g in zip(variables, tape.gradient(loss, variables)):
            v.assign_sub(0.1 * g)
        return loss

    one = [tf.Variable(a) for a in (W1, B1, W2, B2)]
    loss_one = float(step(one, X, Y))
    with tf.device("/CPU:0"):
        placed = [tf.Variable(W1), tf.Variable(B1)]
    with tf.device("/CPU:1"):
        placed += [tf.Variable(W2), tf.Variable(B2)]
    loss_placed = float(step(placed, X, Y, ("/CPU:0", "/CPU:1")))

    mesh = dtensor.create_mesh([("model", 2)], devices=["CPU:0", "CPU:1"])
    U = dtensor.UNSHARDED
    def dvar(a, spec):
        rep = dtensor.copy_to_mesh(tf.constant(a), dtensor.Layout.replicated(mesh, a.ndim))
        return dtensor.DVariable(dtensor.relayout(rep, dtensor.Layout(spec, mesh)))
    sharded = [dvar(W1, [U, "model"]), dvar(B1, ["model"]), dvar(W2, ["model", U]), dvar(B2, [U])]
    x, y = (dtensor.copy_to_mesh(tf.constant(a), dtensor.Layout.replicated(mesh, 2)) for a in (X, Y))
    loss_tp = float(tf.function(step)(sharded, x, y))

    def full(v):
        shards = [s.numpy() for s in dtensor.unpack(v.read_value())]
        specs = dtensor.fetch_layout(v).sharding_specs
        return np.concatenate(shards, axis=specs.index("model")) if "model" in specs else shards[0]

    print(json.dumps({
        "devices": [placed[0].device[-5:], placed[2].device[-5:]],
        "placed_loss": loss_placed - loss_one,
        "placed_weights": max(float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(placed, one)),
        "tp_loss": loss_tp - loss_one,
        "tp_weights": max(float(np.abs(full(a) - b.numpy()).max()) for a, b in zip(sharded, one)),
        "shards": [list(s.shape) for s in dtensor.unpack(sharded[0].read_value())],
        "update": max(float(np.abs(b.numpy() - a).max()) for a, b in zip((W1, B1, W2, B2), one)),
    }))
""")


def test_tensorflow_placement_and_dtensor_equal_one_device():
    result = subprocess.run([sys.executable, "-c", TF_CHILD], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["devices"] == ["CPU:0", "CPU:1"]
    assert got["placed_loss"] == 0 and got["placed_weights"] == 0  # same kernels, same order
    assert abs(got["tp_loss"]) <= TOL and got["tp_weights"] <= TOL
    assert got["shards"] == [[16, 16], [16, 16]]
    assert got["update"] > 100 * TOL  # the step really moved the weights
