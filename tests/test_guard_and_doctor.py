"""The import-order guard, proven in child processes, and `tfpt doctor`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # each test starts fresh Python processes that import TensorFlow

TORCH_AFTER_TF = textwrap.dedent("""
    import sys
    if sys.argv[1] == "with-tfpt":
        import tfpt
    import tensorflow as tf
    import torch
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(8, 4)).sum().backward()
    opt.step()
    print("optimizer step survived", flush=True)
    compiled = torch.compile(lambda x: torch.sin(x) * 2)
    print(f"compile survived {float(compiled(torch.ones(3)).sum()):.2f}", flush=True)
""")


def _run(args, env=None, timeout=300):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_import_tfpt_first_makes_tensorflow_then_torch_safe():
    result = _run(["-c", TORCH_AFTER_TF, "with-tfpt"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "optimizer step survived" in result.stdout
    assert "compile survived 5.05" in result.stdout


def test_without_the_guard_the_same_script_crashes():
    # The control: proves the guard is doing the work (and tells us when TF fixes #124205).
    result = _run(["-c", TORCH_AFTER_TF, "without"])
    assert result.returncode == -11, (
        f"expected SIGSEGV without tfpt, got exit {result.returncode}: if TF fixed "
        "tensorflow/tensorflow#124205, the guard in tfpt/_guard.py may be dropped")
    assert "optimizer step survived" not in result.stdout


def test_tensorflow_imported_first_gets_a_warning():
    code = "import tensorflow, warnings; warnings.simplefilter('always'); import tfpt"
    result = _run(["-c", code])
    assert result.returncode == 0 and "Put `import tfpt` first" in result.stderr


def test_doctor_reports_the_data(sample_root, mnist, cifar10):
    result = _run(["-m", "tfpt", "doctor"], env={"TFPT_DATA_DIR": str(sample_root),
                                                 "TFPT_QUICK": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    counts = [f"{name:<13} {ds.kind}: {len(ds.x_train):,} train / {len(ds.x_test):,} test "
              "(verified)" for name, ds in (("mnist", mnist), ("cifar10", cifar10))]
    for expected in ("torch         2.14.1", "tensorflow    2.21.0", "keras", "tensorboardX",
                     *counts, "root          $TFPT_DATA_DIR", "quick mode    on",
                     "import order  safe", "status: OK"):
        assert expected in out, f"{expected!r} not in:\n{out}"
    assert str(sample_root) not in out  # no machine path in the report


def test_tensorflow_start_up_notices_are_filtered_and_other_lines_kept():
    code = ("import os; os.environ.pop('TF_ENABLE_ONEDNN_OPTS', None); "
            "import sys, tfpt, tensorflow as tf; print('kept line', file=sys.stderr); "
            "print(float(tf.reduce_sum(tf.ones(3))), os.environ.get('TF_ENABLE_ONEDNN_OPTS'))")
    result = _run(["-c", code], env={"TF_CPP_MIN_LOG_LEVEL": "3"})
    # oneDNN stays on: tfpt filters the notice, it never sets TF_ENABLE_ONEDNN_OPTS=0. (TF prints
    # the notice only on CPUs with AVX512-VNNI/BF16/AMX, so its presence depends on the machine.)
    assert result.returncode == 0 and result.stdout.strip() == "3.0 None", result.stderr
    assert "kept line" in result.stderr
    for noise in ("absl::InitializeLog", "oneDNN custom operations", "cudart_stub"):
        assert noise not in result.stderr, result.stderr



def test_doctor_fails_on_a_corrupted_file_and_says_missing(mnist_copy):
    target = mnist_copy / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    target.write_bytes(target.read_bytes()[:-10])
    result = _run(["-m", "tfpt", "doctor"], env={"TFPT_DATA_DIR": str(mnist_copy)})
    assert result.returncode == 1
    assert "mnist         BROKEN" in result.stdout and "cifar10       missing" in result.stdout
    assert "PROBLEM: " in result.stdout and "t10k-labels-idx1-ubyte is corrupted" in result.stdout


@pytest.mark.skipif(shutil.which("tfpt") is None and not os.path.exists(
    os.path.join(os.path.dirname(sys.executable), "tfpt")), reason="console script not installed")
def test_console_script_runs():
    exe = shutil.which("tfpt") or os.path.join(os.path.dirname(sys.executable), "tfpt")
    result = subprocess.run([exe, "doctor"], capture_output=True, text=True, timeout=120)
    ok = "status: OK" in result.stdout  # the exit status must agree with the verdict printed
    assert "versions" in result.stdout and result.returncode == (0 if ok else 1), result.stdout
