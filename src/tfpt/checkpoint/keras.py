"""Keras checkpoints: ``.keras`` (whole model) or ``.weights.h5``, loaded with safe mode on."""

from __future__ import annotations

from pathlib import Path

import keras

from tfpt.checkpoint import CheckpointError, atomic_path, expect


def save(path: str | Path, model: keras.Model) -> Path:
    """Write ``model`` atomically: a whole model for ``.keras``, weights for ``.weights.h5``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.name.endswith(".weights.h5"):
            model.save_weights(tmp)
        elif path.suffix == ".keras":
            model.save(tmp)
        else:
            raise CheckpointError(f"{path}: use a .keras or .weights.h5 file name")
    return path


def load(path: str | Path, model: keras.Model | None = None) -> keras.Model:
    """Load a ``.keras`` model (safe mode: no arbitrary code), or weights into ``model``."""
    expect(path, "keras")
    path = Path(path)
    try:
        if path.name.endswith(".weights.h5"):
            if model is None:
                raise CheckpointError(f"{path} holds weights only: pass the model to load them into")
            model.load_weights(path)
            return model
        loaded = keras.saving.load_model(path, safe_mode=True)
    except (ValueError, OSError, KeyError) as err:
        raise CheckpointError(f"{path} does not fit: {err}") from err
    if model is not None:
        _check_same(path, loaded, model)
        model.set_weights(loaded.get_weights())
        return model
    return loaded


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
