"""Move weights between the Keras and PyTorch twins, both ways.

What a port has to change (measured in ``shared/reference/framework-differences.md``):
- Dense/Linear: Keras stores ``kernel`` as (in, out), torch ``weight`` as (out, in).
- Conv2D/Conv2d: Keras kernels are HWIO, torch kernels OIHW.
- A Dense after Flatten: Keras flattens feature maps in (h, w, c) order, torch in
  (c, h, w), so the rows of that kernel are permuted.
- BatchNorm: gamma/beta/moving mean/var ↔ weight/bias/running mean/var; epsilon
  and momentum are copied too (Keras momentum m is torch momentum 1 − m).
- Padding: Keras ``'same'`` with stride 2 pads bottom/right only; the torch twin
  must use :class:`tfpt.models.torch.TFSamePad2d` there, which the port checks.

Layers are paired in order, counting only those with weights. A pair that does not
match raises :class:`PortError` naming the first layer that differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import torch
from torch import nn

from tfpt.models.torch import TFSamePad2d


class PortError(ValueError):
    """The two models do not have the same architecture; the message names the layer."""


@dataclass
class Pair:
    index: int
    keras_layer: keras.layers.Layer
    torch_name: str
    torch_module: nn.Module
    flatten_hwc: tuple[int, int, int] | None  # set for a Dense fed by a Flatten of feature maps
    torch_padding: str  # 'same', 'valid' or 'other' for convolutions


def _keras_layers(model: keras.Model) -> list[tuple[keras.layers.Layer, tuple | None]]:
    found, flatten_hwc = [], None
    for layer in model.layers:
        if isinstance(layer, keras.layers.Flatten):
            shape = tuple(layer.input.shape[1:])
            flatten_hwc = shape if len(shape) == 3 else None
        elif layer.weights:
            found.append((layer, flatten_hwc if isinstance(layer, keras.layers.Dense) else None))
            flatten_hwc = None
    return found


def _torch_padding(conv: nn.Conv2d, previous: nn.Module | None) -> str:
    if isinstance(previous, TFSamePad2d) and conv.padding in ((0, 0), "valid"):
        return "same"
    if conv.padding in ((0, 0), "valid"):
        return "valid"
    k = conv.kernel_size[0]
    if conv.stride == (1, 1) and (conv.padding == "same" or conv.padding == (k // 2, k // 2)):
        return "same"
    return "other"


def _torch_modules(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    found, previous = [], None
    for name, module in model.named_modules():
        if list(module.children()):
            continue  # containers
        if any(True for _ in module.parameters(recurse=False)):
            padding = _torch_padding(module, previous) if isinstance(module, nn.Conv2d) else ""
            found.append((name, module, padding))
        previous = module
    return found


def _describe_keras(layer) -> str:
    shapes = ", ".join(str(tuple(w.shape)) for w in layer.weights[:2])
    return f"{type(layer).__name__} {shapes}"


def _describe_torch(module) -> str:
    shapes = ", ".join(str(tuple(p.shape)) for p in list(module.parameters())[:2])
    return f"{type(module).__name__} {shapes}"


_KIND = {keras.layers.Dense: nn.Linear, keras.layers.Conv2D: nn.Conv2d,
         keras.layers.BatchNormalization: (nn.BatchNorm1d, nn.BatchNorm2d)}


def _mismatch(pair: Pair) -> str | None:
    """Why this pair cannot be ported, or None."""
    kl, tm = pair.keras_layer, pair.torch_module
    expected = next((t for k, t in _KIND.items() if isinstance(kl, k)), None)
    if expected is None:
        return f"porting {type(kl).__name__} is not supported"
    if not isinstance(tm, expected):
        return "different layer types"
    if isinstance(kl, keras.layers.Dense):
        if tuple(kl.kernel.shape[::-1]) != tuple(tm.weight.shape):
            return f"kernel {tuple(kl.kernel.shape)} cannot become weight {tuple(tm.weight.shape)}"
    elif isinstance(kl, keras.layers.Conv2D):
        if tuple(np.transpose(np.empty(kl.kernel.shape), (3, 2, 0, 1)).shape) != tuple(tm.weight.shape):
            return (f"kernel {tuple(kl.kernel.shape)} (HWIO) does not match weight "
                    f"{tuple(tm.weight.shape)} (OIHW)")
        if tuple(kl.strides) != tuple(tm.stride):
            return f"strides {tuple(kl.strides)} vs {tuple(tm.stride)}"
        if kl.padding != pair.torch_padding:
            return (f"Keras padding '{kl.padding}' vs torch padding {tm.padding} "
                    "(use TFSamePad2d before a stride-2 'same' conv)")
    else:
        return None if kl.gamma.shape[0] == tm.num_features else (
            f"{kl.gamma.shape[0]} vs {tm.num_features} features")
    if (kl.bias is None) != (tm.bias is None):
        return "one has a bias and the other does not"
    return None


def pairs(keras_model: keras.Model, torch_model: nn.Module) -> list[Pair]:
    """Pair the layers with weights, in order; raise :class:`PortError` at the first mismatch."""
    k_layers, t_modules = _keras_layers(keras_model), _torch_modules(torch_model)
    result = []
    for i in range(max(len(k_layers), len(t_modules))):
        if i >= len(k_layers) or i >= len(t_modules):
            extra = (f"torch '{t_modules[i][0]}'" if i < len(t_modules)
                     else f"Keras '{k_layers[i][0].name}'")
            raise PortError(f"layer {i}: {extra} has no counterpart: Keras has "
                            f"{len(k_layers)} layers with weights, torch has {len(t_modules)}")
        (kl, hwc), (name, tm, padding) = k_layers[i], t_modules[i]
        pair = Pair(i, kl, name, tm, hwc, padding)
        why = _mismatch(pair)
        if why:
            raise PortError(f"layer {i} differs: Keras '{kl.name}' {_describe_keras(kl)} vs "
                            f"torch '{name}' {_describe_torch(tm)}: {why}")
        result.append(pair)
    return result


# --- array conversions, one per direction -------------------------------------------

def _dense_to_torch(kernel: np.ndarray, hwc) -> np.ndarray:
    if hwc is not None:
        h, w, c = hwc
        kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
    return kernel.T


def _dense_to_keras(weight: np.ndarray, hwc) -> np.ndarray:
    kernel = weight.T
    if hwc is not None:
        h, w, c = hwc
        kernel = kernel.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(h * w * c, -1)
    return kernel


def _torch_arrays(pair: Pair, source) -> dict[str, np.ndarray]:
    """torch attribute name -> array (``source`` picks values or gradients)."""
    m = pair.torch_module
    names = (["weight", "bias", "running_mean", "running_var"]
             if isinstance(m, nn.modules.batchnorm._BatchNorm) else ["weight", "bias"])
    return {n: source(getattr(m, n)) for n in names if getattr(m, n, None) is not None}


def _to_keras(pair: Pair, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    kl = pair.keras_layer
    if isinstance(kl, keras.layers.BatchNormalization):
        mapping = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
                   "running_var": "moving_variance"}
        return {mapping[k]: v for k, v in arrays.items()}
    out = {"bias": arrays["bias"]} if "bias" in arrays else {}
    if isinstance(kl, keras.layers.Conv2D):
        out["kernel"] = arrays["weight"].transpose(2, 3, 1, 0)
    else:
        out["kernel"] = _dense_to_keras(arrays["weight"], pair.flatten_hwc)
    return out


def _to_torch(pair: Pair) -> dict[str, np.ndarray]:
    kl = pair.keras_layer
    if isinstance(kl, keras.layers.BatchNormalization):
        return {"weight": kl.gamma.numpy(), "bias": kl.beta.numpy(),
                "running_mean": kl.moving_mean.numpy(), "running_var": kl.moving_variance.numpy()}
    kernel = kl.kernel.numpy()
    out = {"weight": kernel.transpose(3, 2, 0, 1) if isinstance(kl, keras.layers.Conv2D)
           else _dense_to_torch(kernel, pair.flatten_hwc)}
    if kl.bias is not None:
        out["bias"] = kl.bias.numpy()
    return out


def _copy_bn_settings(pair: Pair, to_torch: bool) -> None:
    kl, tm = pair.keras_layer, pair.torch_module
    if isinstance(kl, keras.layers.BatchNormalization):
        if to_torch:
            tm.eps, tm.momentum = kl.epsilon, 1.0 - kl.momentum
        else:
            kl.epsilon, kl.momentum = tm.eps, 1.0 - tm.momentum


def keras_to_torch(keras_model: keras.Model, torch_model: nn.Module) -> list[Pair]:
    """Copy every weight of ``keras_model`` into ``torch_model`` (in place)."""
    found = pairs(keras_model, torch_model)
    with torch.no_grad():
        for pair in found:
            for name, array in _to_torch(pair).items():
                target = getattr(pair.torch_module, name)
                target.copy_(torch.from_numpy(np.ascontiguousarray(array)).to(target.dtype))
            _copy_bn_settings(pair, to_torch=True)
    return found


def torch_to_keras(torch_model: nn.Module, keras_model: keras.Model) -> list[Pair]:
    """Copy every weight of ``torch_model`` into ``keras_model`` (in place)."""
    found = pairs(keras_model, torch_model)
    for pair in found:
        arrays = _torch_arrays(pair, lambda t: t.detach().cpu().numpy())
        for name, array in _to_keras(pair, arrays).items():
            variable = getattr(pair.keras_layer, name)
            variable.assign(array.astype(variable.dtype))
        _copy_bn_settings(pair, to_torch=False)
    return found


def torch_grads_as_keras(torch_model: nn.Module, keras_model: keras.Model) -> dict[str, np.ndarray]:
    """torch's ``.grad`` of every parameter, in Keras layout, keyed by Keras variable path.

    Compare with ``tape.gradient(loss, keras_model.trainable_variables)``.
    """
    grads = {}
    for pair in pairs(keras_model, torch_model):
        arrays = _torch_arrays(pair, lambda t: None if t.grad is None else t.grad.cpu().numpy())
        arrays = {k: v for k, v in arrays.items() if v is not None}
        for name, array in _to_keras(pair, arrays).items():
            grads[getattr(pair.keras_layer, name).path] = array
    return grads
