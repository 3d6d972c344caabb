"""PyTorch checkpoints: state dicts plus metadata, loaded safely onto the local device."""

from __future__ import annotations

import pickle
import platform
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tfpt.checkpoint import FORMAT, CheckpointError, atomic_path, expect
from tfpt.models import spec_of


def save(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
         **extra: Any) -> Path:
    """Write model (and optimizer) state with metadata, atomically.

    ``extra`` goes into the checkpoint as is (epoch, metrics, scheduler or RNG state):
    plain Python values and tensors only, so it loads with ``weights_only=True``.
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
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return Path(path)


def load(path: str | Path, model: nn.Module | None = None,
         optimizer: torch.optim.Optimizer | None = None,
         map_location: str | torch.device | None = None) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` onto ``map_location`` (default: CPU).

    With ``model`` (and ``optimizer``), their state is restored after checking that
    the checkpoint was written for the same architecture. Returns the checkpoint dict.
    """
    expect(path, "torch")
    try:
        checkpoint = torch.load(path, map_location=map_location or "cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as err:
        raise CheckpointError(f"{path} cannot be read ({err}); it may be truncated") from err
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a tfpt checkpoint")
    if model is not None:
        _check_model(path, checkpoint, model)
        model.load_state_dict(checkpoint["model_state"])
    if optimizer is not None:
        if checkpoint.get("optimizer_state") is None:
            raise CheckpointError(f"{path} has no optimizer state to resume from")
        optimizer.load_state_dict(checkpoint["optimizer_state"])
    return checkpoint


def _check_model(path, checkpoint: dict, model: nn.Module) -> None:
    saved, current = checkpoint.get("model") or {}, spec_of(model)
    if saved and current and saved != current:
        raise CheckpointError(
            f"{path} holds {saved['name']}({_args(saved)}) but the model is "
            f"{current['name']}({_args(current)}); build the same model to load it")
    state = checkpoint["model_state"]
    mine = model.state_dict()
    for key, tensor in mine.items():
        if key not in state or tuple(state[key].shape) != tuple(tensor.shape):
            got = tuple(state[key].shape) if key in state else "missing"
            raise CheckpointError(f"{path} does not fit this model: '{key}' is {got} in the "
                                  f"checkpoint and {tuple(tensor.shape)} in the model")


def _args(spec: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in spec.get("kwargs", {}).items())
