"""tfpt.parity: verdict lines, tolerances and failures."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch

from tfpt.parity import assert_close, assert_grads_close, compare


def test_accepts_every_tensor_kind_and_prints_one_line(capsys):
    a = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    assert assert_close(tf.constant(a), torch.from_numpy(a + 1e-7), name="x") is None  # shown once
    line = capsys.readouterr().out.strip()
    verdict = compare(tf.constant(a), torch.from_numpy(a + 1e-7), name="x")
    assert line == str(verdict) and "\n" not in line
    assert line.startswith("PASS x: max abs diff 1.") and "shape (3, 4), float32" in line
    assert verdict.passed and 0 < verdict.max_abs < 2e-7


# Representative pairs: (reference, rtol, atol) as the notebooks use them.
PAIRS = [
    (np.linspace(-3, 3, 40, dtype=np.float32), 1e-5, 1e-5),  # float32 logits
    (np.linspace(-1, 1, 40) * 1e3, 1e-12, 1e-12),  # float64 losses, large values
    (np.array([2.3426], dtype=np.float32), 1e-6, 1e-6),  # a single loss
    (np.linspace(-1e-3, 1e-3, 40), 1e-9, 1e-9),  # small float64 values
]


@pytest.mark.parametrize("reference, rtol, atol", PAIRS)
def test_ten_times_the_tolerance_fails(reference, rtol, atol):
    """Every check in the series can fail: move one element by 10x its tolerance."""
    ok = reference.copy()
    assert_close(ok, reference, rtol=rtol, atol=atol, quiet=True)
    bad = reference.copy()
    i = len(bad) // 2
    bad[i] = bad[i] + 10 * (atol + rtol * abs(bad[i]))
    with pytest.raises(AssertionError, match="^FAIL"):
        assert_close(bad, reference, rtol=rtol, atol=atol, quiet=True)


def test_failure_raises_with_the_same_line():
    with pytest.raises(AssertionError, match=r"^FAIL logits: max abs diff 1\.0e-03"):
        assert_close(np.zeros(3), np.array([0.0, 1e-3, 0.0]), name="logits", quiet=True)


def test_shape_mismatch_and_nan_fail():
    assert "shapes differ: (2,) vs (3,)" in str(compare(np.zeros(2), np.zeros(3)))
    assert not compare(np.array([np.nan]), np.array([0.0])).passed


def test_relative_tolerance_scales_with_the_reference():
    big = np.array([1e6])
    assert compare(big + 1.0, big, rtol=1e-5, atol=0).passed
    assert not compare(big + 100.0, big, rtol=1e-5, atol=0).passed
    assert "float32 vs float64" in str(compare(np.float32([1.0]), np.float64([1.0])))


def test_gradient_dicts_use_each_tensors_own_scale():
    ref = {"w": np.array([100.0, 1.0]), "b": np.array([1e-3])}
    ok = {"w": np.array([100.001, 1.001]), "b": np.array([1e-3 + 1e-9])}
    assert_grads_close(ok, ref, rel=1e-4, quiet=True)  # raises if not
    with pytest.raises(AssertionError, match="worst b"):
        assert_grads_close({"w": ref["w"], "b": np.array([2e-3])}, ref, quiet=True)
    with pytest.raises(AssertionError, match="different parameters"):
        assert_grads_close({"w": ref["w"]}, ref, quiet=True)
