"""`tfpt bench` runs end to end at a tiny size and reports every candidate (numbers not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_bench_runs_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "tfpt", "bench", "--steps", "2", "--batch-size", "32",
         "--repeats", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert result.returncode == 0, result.stderr[-2000:]
    print(result.stdout)  # the numbers, for the CI log
    report = json.loads(out.read_text())
    names = [r["name"] for r in report["results"]]
    assert names == ["torch: tfpt.train.torch.fit", "torch: minimal eager loop",
                     "tf: tfpt.train.keras.fit_custom", "tf: tfpt.train.keras.fit",
                     "tf: plain Keras fit", "tf: minimal tf.function loop",
                     "tf: eager loop (no tf.function)"]
    for row in report["results"]:
        assert row["images_per_s"] > 0 and len(row["epoch_seconds"]) == 1
    assert "vs best baseline" in result.stdout and "best of 1 interleaved epochs" in result.stdout
