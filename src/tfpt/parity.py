"""Prove that two frameworks computed the same numbers, with a one-line verdict.

Built in notebook 01 from ``np.testing.assert_allclose``. ``assert_close(tf_value,
torch_value)`` accepts TF tensors, torch tensors, Keras variables or NumPy arrays,
prints one verdict line (largest differences, shape, dtypes, tolerance), and raises
an ``AssertionError`` carrying the same line when the values differ. "max rel diff"
in that line is ``max|a − b| / max|b|`` (relative to the reference's largest value),
not the elementwise ``rtol`` bound. ``check_dtype=True`` also fails when the dtypes differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def to_numpy(value) -> np.ndarray:
    """NumPy view of a torch tensor, TF tensor / Keras variable, or array-like."""
    if hasattr(value, "detach"):  # torch.Tensor
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy"):  # tf.Tensor, tf.Variable, keras.Variable
        return np.asarray(value.numpy())
    return np.asarray(value)


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing ``a`` with the reference ``b``."""

    name: str
    passed: bool
    max_abs: float
    max_rel: float  # max |a − b| / max |b|
    shape: tuple
    dtypes: tuple[str, str]
    tolerance: str
    note: str = ""

    def __str__(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        dtype = self.dtypes[0] if self.dtypes[0] == self.dtypes[1] else " vs ".join(self.dtypes)
        label = f"{self.name}: " if self.name else ""
        detail = self.note or (f"max abs diff {self.max_abs:.1e}, max rel diff {self.max_rel:.1e}, "
                               f"shape {self.shape}, {dtype}")
        return f"{mark} {label}{detail} ({self.tolerance})"

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the line
        printer.text(str(self))


def compare(a, b, rtol: float = 1e-5, atol: float = 1e-5, name: str = "",
            check_dtype: bool = False) -> Verdict:
    """Compare ``a`` with the reference ``b`` elementwise: |a − b| ≤ atol + rtol·|b|.

    Values are compared in float64; ``check_dtype=True`` also requires equal dtypes,
    for checks whose lesson is the dtype.
    """
    x, y = to_numpy(a), to_numpy(b)
    dtypes = (str(x.dtype), str(y.dtype))
    tolerance = f"rtol {rtol:g}, atol {atol:g}" + (", same dtype" if check_dtype else "")
    if check_dtype and dtypes[0] != dtypes[1]:
        return Verdict(name, False, float("nan"), float("nan"), x.shape, dtypes, tolerance,
                       note=f"dtypes differ: {dtypes[0]} vs {dtypes[1]}")
    if x.shape != y.shape:
        return Verdict(name, False, float("inf"), float("inf"), x.shape, dtypes, tolerance,
                       note=f"shapes differ: {x.shape} vs {y.shape}")
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    diff = np.abs(x64 - y64)
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(y64).max()) if y64.size else 0.0
    max_rel = max_abs / scale if scale > 0 else max_abs
    passed = bool(np.all(diff <= atol + rtol * np.abs(y64))) and np.isfinite(max_abs)
    return Verdict(name, passed, max_abs, max_rel, x.shape, dtypes, tolerance)


def assert_close(a, b, rtol: float = 1e-5, atol: float = 1e-5, name: str = "",
                 quiet: bool = False, check_dtype: bool = False) -> None:
    """Print the verdict of :func:`compare` and raise ``AssertionError`` with it on failure.

    Returns nothing, so a notebook shows the verdict once (use :func:`compare` to
    keep the :class:`Verdict`).
    """
    verdict = compare(a, b, rtol=rtol, atol=atol, name=name, check_dtype=check_dtype)
    if not quiet:
        print(verdict)
    if not verdict.passed:
        raise AssertionError(str(verdict))


def assert_grads_close(grads_a: dict, grads_b: dict, rel: float = 1e-4, name: str = "gradients",
                       quiet: bool = False) -> None:
    """Compare two ``{name: gradient}`` dicts, each within ``rel`` of its own largest magnitude.

    A relative-to-max tolerance, because gradients near zero have no meaningful
    elementwise relative error in float32.
    """
    if set(grads_a) != set(grads_b):
        raise AssertionError(f"FAIL {name}: different parameters: {sorted(set(grads_a) ^ set(grads_b))}")
    verdicts = []
    for key in grads_a:
        ref = to_numpy(grads_b[key])
        tol = rel * float(np.abs(ref).max() or 1.0)
        verdicts.append(compare(grads_a[key], ref, rtol=0.0, atol=tol, name=key))
    failed = [v for v in verdicts if not v.passed]
    worst = failed[0] if failed else max(verdicts, key=lambda v: v.max_rel)
    summary = Verdict(name, not failed, worst.max_abs, worst.max_rel, worst.shape, worst.dtypes,
                      f"each within {rel:g} of its largest magnitude",
                      note=f"{len(verdicts)} tensors, worst {worst.name}: max abs diff "
                           f"{worst.max_abs:.1e}, {worst.max_rel:.1e} of its largest magnitude")
    if not quiet:
        print(summary)
    if failed:
        raise AssertionError(str(summary))
