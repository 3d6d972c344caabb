"""Twins are twins: all seven framework pairs have the same public surface, and each half
imports only its own framework (the rules in tfpt/__init__.py's docstring)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest

import tfpt

SRC = Path(tfpt.__file__).parent
PAIRS = {"data": ("torch", "tf"), "models": ("torch", "keras"), "train": ("torch", "keras"),
         "checkpoint": ("torch", "keras"), "app": ("torch", "keras"),
         "distributed": ("torch", "tf"), "inspect": ("torch", "keras")}
FRAMEWORK_PACKAGES = {"torch": {"torch", "torchvision"}, "tf": {"tensorflow", "keras", "tf_keras"}}

# Every difference a pair may have, with the reason; anything else fails the test.
ONLY = {  # public names one half has and the other cannot
    ("data", "torch"): {"EpochSampler", "ImageArrayDataset",  # torch's Dataset/Sampler protocol
                        "augment_transform", "normalize_transform"},  # torchvision transforms...
    ("data", "tf"): {"augment_fn", "normalize_fn"},  # ...where tf.data maps functions
    ("models", "torch"): {"TFSamePad2d"},  # Keras has padding="same"; torch must pad by hand
    ("train", "keras"): {"HistoryCallback", "KeepBestCallback", "LearningRateCallback",
                         "TensorBoardCallback",  # Keras fit runs tfpt's loop parts as callbacks
                         "fit_custom", "make_train_step"},  # the GradientTape loop + traced step
}
SIGNATURES = {  # functions whose parameters differ, and why (train/keras.py's docstring)
    ("train", "evaluate"): "PyTorch moves batches to a device; TF places them itself",
    ("train", "fit"): "loaders vs datasets; device+amp vs jit_compile+callbacks",
    ("train", "train_epoch"): "the Keras epoch takes the traced step from make_train_step",
    ("distributed", "fit"): "torch takes amp; TF's precision is the model's dtype policy",
    ("distributed", "make_train_step"): "as distributed.fit",
    ("data", "device_loader"): "torch takes channels_last; TF images are NHWC already",
}


def _surface(module) -> dict:
    found = {}
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            found[name] = [(p.name, p.default) for p in inspect.signature(obj).parameters.values()]
        elif inspect.isclass(obj):
            found[name] = "class"
    return found


@pytest.mark.parametrize("package", sorted(PAIRS))
def test_twin_pairs_have_the_same_surface(package):
    a, b = (importlib.import_module(f"tfpt.{package}.{half}") for half in PAIRS[package])
    left, right = _surface(a), _surface(b)
    assert set(left) - set(right) == ONLY.get((package, PAIRS[package][0]), set())
    assert set(right) - set(left) == ONLY.get((package, PAIRS[package][1]), set())
    for name in set(left) & set(right):
        if (package, name) not in SIGNATURES:
            assert left[name] == right[name], f"tfpt.{package}: {name} differs between the twins"
        else:  # documented differences must still be differences (else drop the entry)
            assert left[name] != right[name], f"{package}.{name} agrees now: drop it from SIGNATURES"


def _imports(path: Path, lazy: bool = True) -> set[str]:
    """Every module ``path`` imports at the top (and, with ``lazy``, inside functions)."""
    names = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree) if lazy else _top_level(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _top_level(tree: ast.Module):
    """Statements that run on import: the module body, including if/try blocks."""
    for node in tree.body:
        yield node
        if isinstance(node, (ast.If, ast.Try)):
            yield from (n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    for candidate in (SRC.joinpath(*parts).with_suffix(".py"), SRC.joinpath(*parts, "__init__.py")):
        if parts and candidate.exists():
            return candidate
    return None


def _reaches(path: Path, seen: set[Path] | None = None, lazy: bool = True) -> set[str]:
    """Third-party packages ``path`` imports anywhere, and those that importing the tfpt
    modules it uses loads (their top-level imports: a shared module such as
    ``tfpt.devices`` may ask both frameworks inside a function)."""
    seen = seen if seen is not None else set()
    seen.add(path)
    found = set()
    for name in _imports(path, lazy):
        if name.split(".")[0] != "tfpt":
            found.add(name.split(".")[0])
        elif (inner := _module_file(name)) is not None and inner not in seen:
            found |= _reaches(inner, seen, lazy=_is_twin(inner))
    return found


def _is_twin(path: Path) -> bool:
    return path.parent.name in PAIRS and path.stem in PAIRS[path.parent.name]


@pytest.mark.parametrize("module", [f"{p}/{half}" for p, halves in PAIRS.items() for half in halves])
def test_each_twin_imports_only_its_own_framework(module):
    package, half = module.split("/")
    own = "torch" if half == "torch" else "tf"
    other = FRAMEWORK_PACKAGES["tf" if own == "torch" else "torch"]
    reached = _reaches(SRC / package / f"{half}.py") - {"tfpt"}
    assert not reached & other, f"tfpt.{package}.{half} reaches {sorted(reached & other)}"
    assert reached & FRAMEWORK_PACKAGES[own], f"tfpt.{package}.{half} imports no {own}?"


def test_the_isolation_check_can_fail(tmp_path):
    """A control: a module importing the other framework is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\n\ndef f():\n    import keras\n")
    assert {"torch", "keras"} <= _reaches(bad)


def test_every_function_is_short_and_takes_few_parameters(tmp_path):
    """Issue 16's rule: at most 50 lines and 8 parameters (more go through an options object)."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "function_sizes.py"
    spec = importlib.util.spec_from_file_location("function_sizes", script)
    sizes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sizes)
    assert sizes.offenders() == []
    long_body = "\n".join(f"    x{i} = {i}" for i in range(51))
    (tmp_path / "bad.py").write_text(f"def wide(a, b, c, d, e, f, g, h, i):\n    pass\n\n\n"
                                     f"def long():\n{long_body}\n")
    assert sizes.offenders(tmp_path) == ["bad.py:wide: 9 parameters", "bad.py:long: 51 lines"]
