"""PyTorch checkpoints: state dicts plus metadata, loaded safely onto the local device.

Notebook 05 first does it by hand: ``torch.save(model.state_dict(), path)``, then
``model.load_state_dict(torch.load(path, weights_only=True, map_location=...))``.
This adds the optimizer, metadata, checks and an atomic write.
"""

from __future__ import annotations

import pickle
import platform
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tfpt.checkpoint import FORMAT, CheckpointError, Loaded, atomic_path, check_spec, expect, one_line
from tfpt.models import spec_of


def save(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
         **extra: Any) -> Path:
    """Write model (and optimizer) state with metadata, atomically.

    ``extra`` is stored as is (epoch, history, scheduler or RNG state): plain Python
    values and tensors only, so that it loads with ``weights_only=True``.
    """
    device = next(model.parameters()).device
    checkpoint = {
        "format": FORMAT,
        "framework": "torch",
        "model": spec_of(model),
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "versions": {"torch": str(torch.__version__), "python": platform.python_version()},
        "trained_on": str(device) + (f" ({torch.cuda.get_device_name(device)})"
                                     if device.type == "cuda" else ""),
        "extra": extra,
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return Path(path)


def load(path: str | Path, model: nn.Module | None = None,
         optimizer: torch.optim.Optimizer | None = None,
         device: str | torch.device | None = None) -> Loaded:
    """Read a checkpoint with ``weights_only=True`` onto ``device`` (default: the CPU).

    Without ``model``, a tfpt twin model is rebuilt from the spec saved with it.
    The weights (and the optimizer's state, if ``optimizer`` is given) are restored
    after checking that the checkpoint was written for the same architecture.
    """
    expect(path, "torch")
    checkpoint = _read(path, device)
    try:
        if model is None:
            model = _rebuild(path, checkpoint.get("model") or {})
        _check_model(path, checkpoint, model)
        model.load_state_dict(checkpoint["model_state"])
        if device is not None:
            model.to(device)
        if optimizer is not None:
            if checkpoint.get("optimizer_state") is None:
                raise CheckpointError(f"{path} has no optimizer state to resume from")
            optimizer.load_state_dict(checkpoint["optimizer_state"])
    except CheckpointError:
        raise
    except _CONTENT_ERRORS as err:  # a tampered or hand-made dict: the file's fault
        raise CheckpointError(f"{path} is a tfpt checkpoint whose contents do not fit "
                              f"({one_line(err)}); use an earlier checkpoint or train again") from err
    info = {k: v for k, v in checkpoint.items()
            if k not in ("model_state", "optimizer_state", "extra")}
    extra = checkpoint.get("extra")
    return Loaded(model, optimizer, extra if isinstance(extra, dict) else {}, info)


_CONTENT_ERRORS = (KeyError, TypeError, AttributeError, ValueError, RuntimeError, IndexError)


def _read(path: Path, device) -> dict:
    """``torch.load`` with ``weights_only=True``; what it refuses or cannot parse is one line."""
    try:
        checkpoint = torch.load(path, map_location=device or "cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # weights_only refused a global: never run it
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = found[1] if found else one_line(err)
        raise CheckpointError(
            f"{path} holds Python objects beyond tensors and plain values ({what}); tfpt loads "
            "checkpoints with weights_only=True and refused it without running it. Load only "
            "files you wrote or trust, or train again") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, TypeError, AttributeError,
            IndexError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path} cannot be read ({one_line(err)}); it may be truncated "
                              "or altered: use an earlier checkpoint or train again") from err
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a tfpt checkpoint")
    return checkpoint


def _rebuild(path, spec: dict) -> nn.Module:
    if not spec:
        raise CheckpointError(f"{path} holds the weights of a model tfpt cannot rebuild: "
                              "build the model first and pass it to load()")
    from tfpt.models import build

    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["kwargs"].items()}
    return build("torch", spec["name"], **kwargs)


def _check_model(path, checkpoint: dict, model: nn.Module) -> None:
    check_spec(path, checkpoint.get("model") or {}, spec_of(model))
    state = checkpoint["model_state"]
    for key, tensor in model.state_dict().items():
        if key not in state or tuple(state[key].shape) != tuple(tensor.shape):
            got = tuple(state[key].shape) if key in state else "missing"
            raise CheckpointError(f"{path} does not fit this model: '{key}' is {got} in the "
                                  f"checkpoint and {tuple(tensor.shape)} in the model")

