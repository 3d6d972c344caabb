"""`tfpt train` and `tfpt bench` under faults (issue 17): every case ends in one line, no traceback.

A representative subset of the reliability review's sweep, by category: numbers,
outputs, resume, interrupts, concurrency, full disk (a simulated ENOSPC). The CLI
runs in-process (`tfpt.cli.main`), so a traceback fails the test instead of being
printed. H1 (TF resume with another model), H3 (Ctrl-C right after an epoch line),
NaN, resume with changed flags and concurrent runs each have their own test.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tfpt.cli import main

pytestmark = pytest.mark.slow  # every test here runs tfpt train, most of them in a subprocess

TINY = ["--limit", "64", "--val-limit", "64", "--test-limit", "64", "--batch-size", "32"]


def _one_line(capsys, code: int, fragment: str, command: str = "train") -> str:
    """The run printed exactly one error line naming ``fragment`` and exited with ``code``."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith(f"tfpt {command}: error: "), err
    assert fragment in lines[0], lines[0]
    return lines[0]


def _train(*args: str) -> int:
    return main(["train", *TINY, *args])


@pytest.mark.parametrize("category,args,fragment", [
    ("numbers", ["--seed", str(2**32)], "--seed must be between 0 and 2**32 - 1"),
    ("numbers", ["--lr", "1e300"], "overflows float32"),
    ("outputs", ["--out", ""], "--out is empty"),
    ("outputs", ["--out", "/proc/tfpt-never"], "cannot be written"),
])
def test_bad_input_is_one_line(capsys, category, args, fragment):
    assert _train(*args) == 2
    _one_line(capsys, 2, fragment)


@pytest.mark.parametrize("argv,command", [(["train", "--bogus"], "train"),
                                          (["bench", "--bogus"], "bench"),
                                          (["doctor", "extra"], "doctor")])
def test_an_unknown_flag_names_the_command(capsys, argv, command):
    """Sweep rows cli01, cli40-42: argparse's top parser used to say `tfpt: error:`."""
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    _one_line(capsys, 2, f"unrecognized arguments: {argv[1]}", command=command)


@pytest.mark.parametrize("variable,value,framework", [("TF_CONFIG", "{bad", "tf"),
                                                      ("TF_CONFIG", '{"task": 1}', "tf"),
                                                      ("WORLD_SIZE", "abc", "torch")])
def test_a_broken_launcher_variable_is_one_line(tmp_path, capsys, monkeypatch, variable, value,
                                                framework):
    """Sweep rows env_tfconfig_badjson, env_worldsize_abc: JSONDecodeError/ValueError tracebacks."""
    monkeypatch.setenv(variable, value)
    assert _train("--framework", framework, "--out", str(tmp_path / "run")) == 2
    _one_line(capsys, 2, f"{variable}")


def test_a_value_starting_with_a_dash_reaches_the_workers_intact():
    """Sweep row inj_dashout (L6): `--out=--resume` was handed to workers as `--out --resume`."""
    from tfpt.app import Config
    from tfpt.cli import build_parser

    cfg = Config(out="--resume", nproc=2, limit=256)
    assert "--out=--resume" in cfg.argv()
    args = build_parser().parse_args(["train", *cfg.argv()])
    assert args.out == "--resume" and args.nproc == 2 and not args.resume


def test_resume_into_the_other_frameworks_folder_is_refused(tmp_path, capsys):
    """Sweep row res_mix: tf --resume into a torch run started afresh over its metrics.json."""
    out = tmp_path / "run"
    assert _train("--epochs", "1", "--out", str(out)) == 0
    before = (out / "metrics.json").read_bytes()
    capsys.readouterr()
    assert _train("--framework", "tf", "--epochs", "1", "--out", str(out), "--resume") == 2
    _one_line(capsys, 2, "holds last.pt, a torch run, not last.keras; add --framework torch")
    assert (out / "metrics.json").read_bytes() == before and not (out / "last.keras").exists()


def test_a_full_disk_at_the_lock_is_one_line(tmp_path, capsys, monkeypatch):
    """Sweep row disk_metrics: writing the lock's pid on a full disk was an OSError traceback."""
    import tfpt.app.outdir as outdir

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(outdir.os, "pwrite", full)
    out = tmp_path / "run"
    assert _train("--epochs", "1", "--out", str(out)) == 2
    _one_line(capsys, 2, f"could not write {out / '.tfpt.lock'}: no space left")
    assert not (out / ".tfpt.lock").exists()


def test_bench_out_that_cannot_be_created_is_refused_before_measuring(capsys):
    """Sweep row bench_out_proc: /proc passes os.access for root; the JSON failed after the run."""
    assert main(["bench", "--out", "/proc/tfpt-bench.json", "--steps", "1"]) == 2
    _one_line(capsys, 2, "/proc is not a folder you can write to", command="bench")


def test_bench_out_naming_a_folder_is_refused_before_measuring(tmp_path, capsys):
    assert main(["bench", "--out", str(tmp_path), "--steps", "1"]) == 2
    _one_line(capsys, 2, "is a folder", command="bench")


def test_resume_with_another_batch_size_names_the_saved_value(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert _train("--epochs", "1", "--out", out) == 0
    capsys.readouterr()
    assert _train("--epochs", "1", "--out", out, "--resume", "--batch-size", "16") == 2
    _one_line(capsys, 2, "was trained with --batch-size 32, not 16")


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_resume_may_extend_epochs(tmp_path, capsys, framework):
    """M1: --epochs may grow on --resume (torch used to crash in OneCycleLR); the one-cycle
    schedule is re-planned over the new total, so the extra epoch trains at a real rate
    (TF used to train it at ~1e-8, the end of the old cycle)."""
    from tfpt.train.tensorboard import read_scalars

    out, more = str(tmp_path / "run"), ["--limit", "640"]  # 20 steps per epoch
    assert _train("--framework", framework, "--epochs", "1", "--out", out, *more) == 0
    assert _train("--framework", framework, "--epochs", "2", "--out", out, "--resume", *more) == 0
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    assert len(history["lr"]) == 2
    lr = dict(read_scalars(tmp_path / "run" / "runs" / framework / "mnist_MnistCNN")["step/lr"])
    assert lr[30] > 1e-4, lr  # step 30 of the 40-step cycle: mid-anneal, not its end


@pytest.mark.slow
def test_tf_resume_with_another_model_is_refused(tmp_path, capsys):
    """H1: the TF twin used to train the saved MnistCNN and write metrics naming an MLP."""
    out = str(tmp_path / "run")
    assert _train("--framework", "tf", "--epochs", "1", "--out", out) == 0
    with zipfile.ZipFile(tmp_path / "run" / "last.keras") as zf:
        assert json.loads(zf.read("tfpt.json"))["model"]["name"] == "MnistCNN"
    capsys.readouterr()
    assert _train("--framework", "tf", "--epochs", "2", "--model", "MLP", "--out", out,
                  "--resume") == 2
    _one_line(capsys, 2, "was trained with --model MnistCNN, not MLP")
    assert _train("--framework", "tf", "--epochs", "2", "--out", out, "--resume") == 0
    with zipfile.ZipFile(tmp_path / "run" / "last.keras") as zf:  # the spec survives a resume
        assert json.loads(zf.read("tfpt.json"))["model"]["name"] == "MnistCNN"


def test_divergence_names_epoch_and_step_and_saves_nothing_of_it(tmp_path, capsys):
    """M2: NaN used to end in tensorboardX's "The histogram is empty" traceback."""
    assert _train("--lr", "1e10", "--epochs", "1", "--out", str(tmp_path / "run")) == 2
    line = _one_line(capsys, 2, "became nan in epoch 1 (by step")
    assert "lower --lr" in line and not (tmp_path / "run" / "last.pt").exists()


def test_a_live_lock_refuses_a_second_run_and_a_stale_one_does_not(tmp_path, capsys):
    """M4: the lock is an flock held by the owner (its pid inside); a dead owner's is free."""
    out = tmp_path / "run"
    out.mkdir()
    with open(out / ".tfpt.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242")
        held.flush()
        assert _train("--epochs", "1", "--out", str(out)) == 2
        _one_line(capsys, 2, "is in use by another tfpt train (pid 4242)")
    (out / ".tfpt.lock").write_text("999999")  # a stale lock file: nobody holds it
    (out / ".last.pt.stale123").mkdir()  # what a SIGKILL during a save leaves behind
    assert _train("--epochs", "1", "--out", str(out)) == 0
    assert not (out / ".last.pt.stale123").exists() and not (out / ".tfpt.lock").exists()


def test_full_disk_names_the_file_and_the_intact_checkpoint(tmp_path, capsys, monkeypatch):
    """M3: a simulated ENOSPC at the second save; epoch 1's last.pt stays loadable."""
    import tfpt.checkpoint.torch as ckpt

    real, calls = ckpt.save, []

    def save(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ckpt, "save", save)
    out = tmp_path / "run"
    assert _train("--epochs", "2", "--out", str(out)) == 2
    line = _one_line(capsys, 2, f"could not write {out / 'last.pt'}: no space left")
    assert "previous last.pt is intact" in line
    import torch

    assert torch.load(out / "last.pt", weights_only=True)["extra"]["epoch"] == 1


def test_ctrl_c_right_after_an_epoch_line_keeps_metrics_and_checkpoints_together(
        tmp_path, monkeypatch):
    """H3: a SIGINT while epoch 2 is recorded waits until it is saved; metrics.json, best.pt
    and last.pt then describe the same epochs."""
    from tfpt.train.history import History

    line = History.line

    def interrupting_line(self, total=None):
        if self.epochs == 2:
            os.kill(os.getpid(), signal.SIGINT)  # lands just after the epoch line
        return line(self, total)

    monkeypatch.setattr(History, "line", interrupting_line)
    out = tmp_path / "run"
    assert _train("--epochs", "3", "--out", str(out)) == 130
    import torch

    metrics = json.loads((out / "metrics.json").read_text())
    last = torch.load(out / "last.pt", weights_only=True)["extra"]
    best = torch.load(out / "best.pt", weights_only=True)["extra"]
    assert metrics["interrupted"] and metrics["epochs"] == last["epoch"] == 2
    assert best["epoch"] == metrics["best_epoch"]
    assert metrics["val_loss"] == min(last["history"]["val_loss"])


def test_ctrl_c_before_the_first_epoch_exits_130_without_a_traceback(tmp_path):
    """L3: it used to exit 2 with "no epoch finished"."""
    proc = subprocess.Popen([sys.executable, "-m", "tfpt", "train", *TINY, "--epochs", "1",
                             "--out", str(tmp_path / "run")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for out_line in proc.stdout:
        if out_line.startswith("device:"):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "intact" not in out + err  # no checkpoint exists to be intact (sweep row int_sigint_startup)


def test_keras_fit_resumes_its_schedule_where_it_stopped():
    """Issue 16: Keras `fit` continued from a History offsets the per-step schedule."""
    import keras

    import tfpt
    from tfpt import data as tdata
    from tfpt.data import tf as data_tf
    from tfpt.models.keras import MLP
    from tfpt.train import OneCycle
    from tfpt.train import keras as train_keras

    ds = tdata.load("mnist")

    def run(epochs, history=None):
        tfpt.seed(0)
        train = data_tf.loader(ds, "train", batch_size=32, limit=64)
        val = data_tf.loader(ds, "val", batch_size=32, limit=32)
        return train_keras.fit(MLP(), train, val, epochs, keras.optimizers.Adam(1e-3),
                               schedule=OneCycle(1e-3, 2 * len(train)), progress=False,
                               history=history)

    whole = run(2)
    resumed = run(2, run(1))
    np.testing.assert_array_equal(resumed.lr, whole.lr)  # schedule(step) is exact arithmetic
