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


def test_dtype_check_fails_on_another_dtype():
    """01 ex. 3 asks for float32: with check_dtype a float64 answer fails, values alone pass."""
    x = np.linspace(0, 1, 6, dtype=np.float32)
    assert_close(torch.from_numpy(x), tf.constant(x), rtol=0, atol=0, check_dtype=True, quiet=True)
    assert compare(x.astype(np.float64), x, rtol=0, atol=0).passed  # values only
    with pytest.raises(AssertionError, match="dtypes differ: float64 vs float32"):
        assert_close(x.astype(np.float64), tf.constant(x), rtol=0, atol=0, check_dtype=True,
                     quiet=True)
    assert "same dtype" in str(compare(x, x, check_dtype=True))


def test_zero_tolerance_catches_one_ulp():
    """Checks at rtol=atol=0 (bit-equal results) fail on a one-ulp change."""
    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    bad = x.copy()
    bad[1] = np.nextafter(bad[1], np.float32(3))
    assert_close(x.copy(), x, rtol=0, atol=0, quiet=True)
    with pytest.raises(AssertionError, match="^FAIL"):
        assert_close(bad, x, rtol=0, atol=0, quiet=True)


def test_max_rel_diff_is_relative_to_the_largest_reference_value():
    v = compare(np.array([1.0, 101.0]), np.array([0.0, 100.0]), rtol=1, atol=0)
    assert v.max_abs == 1.0 and v.max_rel == 0.01  # 1 / max|b|, not the 1/0 elementwise ratio
