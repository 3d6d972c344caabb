"""`tfpt bench` runs end to end at a tiny size and reports every candidate (numbers not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # runs tfpt bench


def _bench(tmp_path, *args):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "tfpt", "bench", "--steps", "2", "--batch-size", "32",
         "--repeats", "1", "--out", str(out), *args],
        capture_output=True, text=True, timeout=900, env=os.environ.copy())
    assert result.returncode == 0, result.stderr[-2000:]
    print(result.stdout)  # the numbers, for the CI log
    return result.stdout, json.loads(out.read_text())


def test_bench_loops_and_modes_run_and_write_json(tmp_path):
    stdout, report = _bench(tmp_path, "--sections", "loops,modes", "--width", "4")
    names = [r["name"] for r in report["results"]]
    assert names == ["torch: tfpt.train.torch.train_epoch", "torch: minimal eager loop",
                     "tf: tfpt.train.keras.train_epoch", "tf: tfpt.train.keras.fit",
                     "tf: plain Keras fit", "tf: minimal tf.function loop",
                     "tf: eager loop (no tf.function)",
                     "torch MnistCNN: eager", "tf MnistCNN: eager", "tf MnistCNN: tf.function",
                     "torch FastResNet: eager", "tf FastResNet: eager",
                     "tf FastResNet: tf.function"]
    for row in report["results"]:  # the rate counts --steps x --batch-size images per epoch
        assert len(row["epoch_seconds"]) == 1 and row["first_epoch_seconds"] > 0
        assert row["images_per_s"] * row["epoch_seconds"][0] == pytest.approx(2 * 32, rel=1e-9)
    assert "vs baseline" in stdout and "best of 1 interleaved epochs" in stdout


def test_bench_rejects_an_unknown_section():
    result = subprocess.run([sys.executable, "-m", "tfpt", "bench", "--sections", "speed"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("tfpt bench: error: --sections/--models: unknown speed")


def test_bench_loader_prints_every_input_path(tmp_path):
    stdout, report = _bench(tmp_path, "--loader")
    names = [r["name"] for r in report["results"]]
    assert names == ["torch: per image (DataLoader + transforms)", "torch: batched, data on cpu",
                     "tf: per image (tf.data map)", "tf: batched, data on cpu (XLA)"]
    assert all(r["section"] == "loader" and r["images_per_s"] > 0 for r in report["results"])
