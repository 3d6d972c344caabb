"""Keras twin of :mod:`tfpt.inspect.torch`: a shape table from intermediate outputs.

Built in notebook 06: a Sequential or functional model knows every layer's symbolic
output, so a second model with those outputs returns them all for one real batch.
"""

from __future__ import annotations

import keras

from tfpt.inspect import Row

__all__ = ["shape_table"]


def shape_table(model: keras.Model, x) -> list[Row]:
    """(name, type, output shape) of every layer of ``model``, in order, for input ``x``.

    Why a second model: it reuses the layers and weights and returns every
    intermediate output of one inference pass (``training=False``), so the table
    shows real shapes, batch size included, where ``summary()`` shows ``None``.
    For Sequential and functional models with a known input (``keras.Input``).
    Built in notebook 06.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # x's own structure
    probe = keras.Model(inputs, [layer.output for layer in layers])
    outputs = probe(x, training=False)
    return [(layer.name, type(layer).__name__, tuple(int(d) for d in out.shape))
            for layer, out in zip(layers, outputs)]
