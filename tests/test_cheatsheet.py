"""docs/cheatsheet.md is executable: every ✓ row gives the same numbers in both columns.

The rows are parsed from the sheet's markdown table and its three setup blocks, so the
sheet and this test cannot drift apart. The check column's convention is explained at
the top of the sheet: ``✓``, ``✓ → expr``, ``✓ on name[, train][, NHWC]``, ``…, tol t``
and ``✗`` (with the reason in the note).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import tfpt  # noqa: F401  (first: makes importing TensorFlow and PyTorch together safe)

# isort: split
import keras
from torch import nn

from tfpt import port
from tfpt.parity import compare, to_numpy

SHEET = Path(__file__).resolve().parents[1] / "docs" / "cheatsheet.md"
AREAS = ("tensors", "autograd", "layers", "losses", "optimizers", "data", "training", "saving",
         "devices")
RTOL, ATOL = 1e-5, 1e-6  # the sheet states these and why
SETUP_BLOCKS = {"setup": "# setup", "tf": "# TensorFlow column", "torch": "# PyTorch column"}
MARK = re.compile(r"✓(?: on (?P<on>\w+))?(?: → (?P<then>[^,]+?))?"
                  r"(?P<flags>(?:, (?:train|NHWC|tol [0-9.e-]+))*)")
CELL = re.compile(r"`[^`]+`(?:<br>`[^`]+`)*")


@dataclass(frozen=True)
class Row:
    """One line of the sheet's table."""

    number: int  # position in the table, from 1
    area: str
    tf_code: tuple[str, ...]  # one entry per line of code
    torch_code: tuple[str, ...]
    mark: str  # the check column, backticks removed
    note: str

    @property
    def checked(self) -> bool:
        return self.mark.startswith("✓")

    @property
    def id(self) -> str:
        words = re.sub(r"[^A-Za-z0-9_.]+", "-", self.tf_code[-1]).strip("-")[:40]
        return f"{self.number:02d}-{self.area}-{words}"


@dataclass(frozen=True)
class Check:
    """How a ✓ row is compared (parsed from its check column)."""

    on: str | None = None  # layer rows: the input name
    then: str | None = None  # compare this expression after running both cells
    train: bool = False
    nhwc: bool = False
    tol: float | None = None


def _code(cell: str, where: str) -> tuple[str, ...]:
    if not CELL.fullmatch(cell):
        raise ValueError(f"{where}: '{cell}' is not code: write each line in backticks, "
                         "joined by <br>")
    return tuple(c.replace("\\|", "|") for c in re.findall(r"`([^`]+)`", cell))


def parse_rows(text: str) -> list[Row]:
    """The rows of the table whose header starts with ``| area |``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| area |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
        where = f"cheatsheet row {len(rows) + 1}"
        if len(cells) != 5:
            raise ValueError(f"{where}: {len(cells)} cells, expected 5 "
                             "(area | TensorFlow / Keras | PyTorch | check | note)")
        area, tf_cell, torch_cell, mark, note = cells
        rows.append(Row(len(rows) + 1, area, _code(tf_cell, where), _code(torch_cell, where),
                        mark.replace("`", ""), note))
    return rows


def parse_check(mark: str) -> Check:
    """Decode a ✓ mark; raise ValueError naming the convention on anything else."""
    found = MARK.fullmatch(mark)
    if not found:
        raise ValueError(f"check '{mark}' not understood: use ✓, '✓ → expr', "
                         "'✓ on name[, train][, NHWC]', add ', tol 1e-4' if needed, or ✗")
    flags = found["flags"]
    tol = re.search(r"tol ([0-9.e-]+)", flags)
    return Check(found["on"], found["then"], "train" in flags, "NHWC" in flags,
                 float(tol[1]) if tol else None)


def setup_code(text: str) -> dict[str, object]:
    """The sheet's three setup blocks, compiled, keyed 'setup', 'tf', 'torch'."""
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    code = {}
    for key, first_line in SETUP_BLOCKS.items():
        block = next((b for b in blocks if b.startswith(first_line)), None)
        if block is None:
            raise ValueError(f"{SHEET.name}: no ```python block starting '{first_line}'")
        code[key] = compile(block, f"<cheatsheet {key}>", "exec")
    return code


TEXT = SHEET.read_text(encoding="utf-8")
ROWS = parse_rows(TEXT)
SETUP = setup_code(TEXT)


def namespaces(setup: dict) -> tuple[dict, dict]:
    """Fresh TensorFlow and PyTorch namespaces built from the same NumPy arrays."""
    base: dict = {}
    exec(setup["setup"], base)  # noqa: S102  (the sheet's own setup code)
    tf_ns = dict(base)
    exec(setup["tf"], tf_ns)  # noqa: S102
    torch_ns = dict(base, tf_model=tf_ns["model"])
    exec(setup["torch"], torch_ns)  # noqa: S102
    return tf_ns, torch_ns


def run_cell(lines: tuple[str, ...], ns: dict):
    """Run the lines like a notebook cell; return the last line's value (None for a statement)."""
    tree = ast.parse("\n".join(lines))
    last = tree.body.pop() if isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cheatsheet cell>", "exec"), ns)  # noqa: S102
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "<cheatsheet cell>", "eval"), ns)


def _randomize(model: keras.Model) -> None:
    """Non-trivial weights (Keras biases start at zero, BN statistics at 0 and 1)."""
    rng = np.random.default_rng(1)
    for v in model.weights:
        if "float" not in str(v.dtype):
            continue
        positive = v.path.rsplit("/", 1)[-1] in ("gamma", "moving_variance")
        values = rng.uniform(0.5, 1.5, v.shape) if positive else rng.normal(0, 0.5, v.shape)
        v.assign(values.astype(v.dtype))


def run_layers(layer_k, layer_t, x_k, x_t, train: bool):
    """Copy random Keras weights (not hyperparameters) into torch, then call both on the input."""
    model_k = layer_k if isinstance(layer_k, keras.Model) else keras.Sequential(
        [keras.Input(tuple(x_k.shape[1:])), layer_k])
    model_k(x_k)  # builds it
    _randomize(model_k)
    model_t = nn.Sequential(layer_t)  # a container, so tfpt.port sees the leaves
    hyper = {m: (m.eps, m.momentum) for m in model_t.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    port.keras_to_torch(model_k, model_t)
    for module, (eps, momentum) in hyper.items():  # the row's own spelling must be right
        module.eps, module.momentum = eps, momentum
    model_t.train(train)
    return model_k(x_k, training=train), model_t(x_t)


def _compare(a, b, rtol: float, atol: float, label: str) -> list:
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))) or len(a) != len(b):
            raise AssertionError(f"FAIL {label}: a sequence on one side only, or lengths differ")
        return [v for i, (x, y) in enumerate(zip(a, b, strict=True))
                for v in _compare(x, y, rtol, atol, f"{label}[{i}]")]
    if a is None or b is None:
        side = "TensorFlow" if a is None else "PyTorch"
        raise AssertionError(f"FAIL {label}: the {side} cell has no value: end it with an "
                             "expression, or mark the row '✓ → name'")
    return [compare(a, b, rtol=rtol, atol=atol, name=label)]


def check_row(row: Row, setup: dict = SETUP) -> list:
    """Run one ✓ row in both frameworks; raise AssertionError (one line) if they differ."""
    how = parse_check(row.mark)
    tf_ns, torch_ns = namespaces(setup)
    a, b = run_cell(row.tf_code, tf_ns), run_cell(row.torch_code, torch_ns)
    if how.on:
        a, b = run_layers(a, b, tf_ns[how.on], torch_ns[how.on], how.train)
    elif how.then:
        a, b = eval(how.then, tf_ns), eval(how.then, torch_ns)
    if how.nhwc:
        a = np.transpose(to_numpy(a), (0, 3, 1, 2))
    tol = (how.tol, how.tol) if how.tol else (RTOL, ATOL)
    verdicts = _compare(a, b, *tol, label=f"row {row.number} ({row.area})")
    failed = [v for v in verdicts if not v.passed]
    if failed:
        raise AssertionError(str(failed[0]))
    return verdicts


# --- the sheet itself --------------------------------------------------------------------

@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_row(row: Row):
    if not row.checked:
        pytest.skip(f"not computable across frameworks: {row.note}")
    check_row(row)


def test_sheet_is_well_formed(capsys):
    checked = [r for r in ROWS if r.checked]
    with capsys.disabled():
        print(f"\ncheat sheet: {len(ROWS)} rows, {len(checked)} checked, "
              f"{len(ROWS) - len(checked)} not computable")
    assert 50 <= len(ROWS) <= 80, f"{len(ROWS)} rows: the sheet is meant to hold about 60"
    assert len(checked) >= 0.75 * len(ROWS), "most rows should be checked"
    assert len({r.id for r in ROWS}) == len(ROWS), "two rows share an id"
    for r in ROWS:
        assert r.area in AREAS, f"row {r.number}: area '{r.area}' is not one of {AREAS}"
        if r.checked:
            parse_check(r.mark)
        else:
            assert r.mark == "✗", f"row {r.number}: check '{r.mark}' is neither ✓… nor ✗"
            assert r.note, f"row {r.number}: a ✗ row needs a note saying why"
    assert {r.area for r in ROWS} == set(AREAS), "every area has at least one row"
    stated = f"rtol {RTOL:g} and atol {ATOL:g}".replace("e-0", "e-")
    assert stated in " ".join(TEXT.split()), f"the sheet should say '{stated}', as this test does"


# --- the checker catches wrong rows --------------------------------------------------------

WRONG = {
    "wrong axis": ("tf.reduce_sum(x, axis=0)", "x.sum(dim=1)", "✓"),
    "wrong reduction": ("tf.reduce_sum(x, axis=0)", "x.mean(dim=0)", "✓"),
    "biased vs unbiased std": ("tf.math.reduce_std(x)", "x.std()", "✓"),
    "probabilities vs logits": ("keras.losses.SparseCategoricalCrossentropy()(labels, logits)",
                                "F.cross_entropy(logits, labels)", "✓"),
    "BN default eps": ("keras.layers.BatchNormalization()", "nn.BatchNorm2d(3)",
                       "✓ on img, NHWC"),
    "layout not converted": ('keras.layers.Conv2D(4, 3, padding="same")',
                             'nn.Conv2d(3, 4, 3, padding="same")', "✓ on img"),
    "SGD default lr": ("opt = keras.optimizers.SGD()<br>opt.apply_gradients(zip(grads, [p]))",
                       "opt = torch.optim.SGD([p])<br>opt.step()", "✓ → p"),
    "statement without → name": ("y = tf.reduce_sum(x)", "y = x.sum()", "✓"),
}


@pytest.mark.parametrize("case", WRONG, ids=list(WRONG))
def test_checker_rejects_a_wrong_row(case):
    tf_code, torch_code, mark = WRONG[case]
    row = Row(0, "tensors", tuple(tf_code.split("<br>")), tuple(torch_code.split("<br>")),
              mark, "")
    with pytest.raises(AssertionError):
        check_row(row)


def test_checker_accepts_the_fixed_row():
    row = Row(0, "layers", ("keras.layers.BatchNormalization()",),
              ("nn.BatchNorm2d(3, eps=1e-3)",), "✓ on img, NHWC", "")
    assert all(v.passed for v in check_row(row))


def test_parser_rejects_malformed_rows():
    with pytest.raises(ValueError, match="5"):
        parse_rows("| area | a | b |\n|---|---|---|\n| tensors | `x` | `x` |\n")
    with pytest.raises(ValueError, match="backticks"):
        parse_rows("| area |\n|---|\n| tensors | tf.abs(x) | `x.abs()` | ✓ | |\n")
    with pytest.raises(ValueError, match="not understood"):
        parse_check("✓ maybe")
    assert parse_check("✓ on img, NHWC, train, tol 1e-4") == Check("img", None, True, True, 1e-4)
