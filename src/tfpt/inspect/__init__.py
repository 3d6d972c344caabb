"""Shape tables: what every layer of a model outputs for a real input, in both frameworks.

Built in notebook 06, where both versions are first written out in view:
- ``tfpt.inspect.torch.shape_table``: forward hooks on every leaf module;
- ``tfpt.inspect.keras.shape_table``: a Keras model whose outputs are the
  intermediate outputs of every layer.

Both twins have the same surface, ``shape_table(model, x) -> list[Row]``, with one
``(layer name, layer type, output shape)`` row per layer in the order the layers
ran, and share :func:`format_table`. Shapes keep each framework's layout: NCHW rows
from PyTorch, NHWC rows from Keras. Each twin imports only its own framework.
"""

from __future__ import annotations

Row = tuple[str, str, tuple[int, ...]]  # (layer name, layer type, output shape)

__all__ = ["Row", "format_table"]


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned plain-text table, one layer per line (built in notebook 06)."""
    header = ("layer", "type", "output shape")
    cells = [header] + [(name, kind, str(tuple(shape))) for name, kind, shape in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(2)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in cells)
