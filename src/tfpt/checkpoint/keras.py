"""Keras checkpoints: ``.keras`` (whole model) or ``.weights.h5``, loaded with safe mode on.

Notebook 05 first does it by hand: ``model.save("x.keras")``, then
``keras.saving.load_model("x.keras")``. This adds tfpt's metadata (stored as one
more JSON member of the ``.keras`` zip), checks, and an atomic write.
"""

from __future__ import annotations

import contextlib
import json
import platform
import zipfile
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from tfpt.checkpoint import FORMAT, CheckpointError, Loaded, atomic_path, check_spec, expect, one_line
from tfpt.models import spec_of

META = "tfpt.json"  # our member inside a .keras zip


def save(path: str | Path, model: keras.Model,
         optimizer: keras.optimizers.Optimizer | None = None, **extra: Any) -> Path:
    """Write ``model`` atomically: the whole model for ``.keras``, weights for ``.weights.h5``.

    A ``.keras`` file stores the optimizer the model was compiled with, so
    ``optimizer`` must be ``model.optimizer``. ``extra`` (epoch, history, ...) must be
    JSON-serializable; a ``.weights.h5`` file has no room for it.
    """
    path = Path(path)
    if optimizer is not None and optimizer is not getattr(model, "optimizer", None):
        raise CheckpointError("a .keras file stores model.optimizer: compile the model with "
                              "this optimizer before saving it")
    with atomic_path(path) as tmp:
        if path.name.endswith(".weights.h5"):
            if extra or optimizer is not None:
                raise CheckpointError(f"{path}: a .weights.h5 file holds weights only; "
                                      "use a .keras file to store the optimizer or extra values")
            model.save_weights(tmp)
        elif path.suffix == ".keras":
            model.save(tmp)
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(META, json.dumps(_info(model) | {"extra": extra}))
        else:
            raise CheckpointError(f"{path}: use a .keras or .weights.h5 file name")
    return path


def _info(model: keras.Model) -> dict:
    device = model.weights[0].value.device if model.weights else ""
    return {"format": FORMAT, "framework": "keras", "model": spec_of(model),
            "versions": {"keras": keras.__version__, "tensorflow": tf.__version__,
                         "python": platform.python_version()},
            "trained_on": device.split("device:")[-1]}


def load(path: str | Path, model: keras.Model | None = None,
         optimizer: keras.optimizers.Optimizer | None = None,
         device: str | None = None) -> Loaded:
    """Load a ``.keras`` model (safe mode: no arbitrary code) or ``.weights.h5`` weights.

    With ``model``, the weights are copied into it after checking the architecture;
    with ``optimizer``, the saved optimizer's state is copied into it. ``device``
    (e.g. "/CPU:0") places the loaded variables.
    """
    expect(path, "keras")
    path = Path(path)
    place = tf.device(device) if device else contextlib.nullcontext()
    try:
        with place:
            if path.name.endswith(".weights.h5"):
                if model is None or optimizer is not None:
                    raise CheckpointError(f"{path} holds weights only: pass the model to load "
                                          "them into, and no optimizer")
                model.load_weights(path)
                return Loaded(model, None)
            loaded = keras.saving.load_model(path, safe_mode=True)
    except CheckpointError:
        raise
    except _REFUSED as err:  # safe mode refusing a config, or weights that do not fit
        if path.name.endswith(".weights.h5"):
            raise CheckpointError(f"{path} does not fit this model ({one_line(err)}); build "
                                  "the model it was saved from") from err
        raise CheckpointError(
            f"{path} cannot be loaded in Keras safe mode ({one_line(err)}); it was refused "
            "without running anything from it: use a checkpoint you wrote, or train again"
        ) from None  # Keras chains 2-4 tracebacks that quote the whole config
    meta = _meta(path)
    if model is not None:
        check_spec(path, meta.get("model") or {}, spec_of(model))
        _check_same(path, loaded, model)
        model.set_weights(loaded.get_weights())
    saved_optimizer = getattr(loaded, "optimizer", None)  # None unless it was compiled
    if optimizer is not None:
        _copy_optimizer_state(path, saved_optimizer, optimizer, model or loaded)
    elif model is None:
        optimizer = saved_optimizer  # it belongs to the loaded model, not to one passed in
    return Loaded(model if model is not None else loaded, optimizer, meta.pop("extra", {}), meta)


# What Keras raises for a tampered or foreign config: ValueError and TypeError (safe mode,
# unknown classes and functions), KeyError/AttributeError/IndexError (missing fields), OSError.
_REFUSED = (ValueError, TypeError, KeyError, AttributeError, IndexError, OSError,
            zipfile.BadZipFile)


def _meta(path: Path) -> dict:
    """tfpt's metadata member of a ``.keras`` zip (``{}`` when there is none)."""
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read(META)) if META in zf.namelist() else {}
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path}: its {META} cannot be read ({one_line(err)}); use an "
                              "earlier checkpoint or train again") from err
    if not isinstance(meta, dict) or not isinstance(meta.get("extra", {}), dict):
        raise CheckpointError(f"{path}: its {META} is not tfpt metadata; use an earlier "
                              "checkpoint or train again")
    return meta


def _copy_optimizer_state(path, saved, optimizer, model: keras.Model) -> None:
    if saved is None:
        raise CheckpointError(f"{path} has no optimizer state to resume from")
    optimizer.build(model.trainable_variables)
    if len(saved.variables) != len(optimizer.variables):
        raise CheckpointError(f"{path} holds {len(saved.variables)} optimizer variables, "
                              f"this optimizer has {len(optimizer.variables)}")
    for mine, theirs in zip(optimizer.variables, saved.variables):
        mine.assign(theirs)


def _check_same(path, loaded: keras.Model, model: keras.Model) -> None:
    saved = [tuple(w.shape) for w in loaded.weights]
    mine = [tuple(w.shape) for w in model.weights]
    if saved != mine:
        first = next((i for i, (a, b) in enumerate(zip(saved, mine)) if a != b),
                     min(len(saved), len(mine)))
        raise CheckpointError(
            f"{path} holds '{loaded.name}' whose weight {first} is "
            f"{saved[first] if first < len(saved) else 'missing'}, but '{model.name}' expects "
            f"{mine[first] if first < len(mine) else 'nothing'}; build the same model to load it")
