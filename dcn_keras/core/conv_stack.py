"""The convolution stacks of both families, built from `core.layers` specifications."""

from __future__ import annotations

import keras
import tensorflow as tf

from dcn_keras.core.layers import Conv


def conv_block(layer: Conv, name: str, index: int, batch_norm: bool = True) -> list:
    """Conv -> batch normalisation -> ReLU, or conv with ReLU (and bias) without it."""
    if not batch_norm:
        return [keras.layers.Conv2D(layer.filters, layer.kernel, strides=layer.stride,
                                    padding=layer.padding, activation="relu",
                                    name=f"{name}_conv{index}")]
    return [
        keras.layers.Conv2D(layer.filters, layer.kernel, strides=layer.stride,
                            padding=layer.padding, use_bias=False, name=f"{name}_conv{index}"),
        # Statistics over the global batch when it is split across replicas, so that a
        # cluster trains the model that one process trains (tests/test_multi_worker.py).
        keras.layers.BatchNormalization(
            synchronized=tf.distribute.get_strategy().num_replicas_in_sync > 1,
            name=f"{name}_bn{index}"),
        keras.layers.ReLU(name=f"{name}_relu{index}"),
    ]


def stack(layers, input_shape, name: str, batch_norm: bool = True,
          dropout=None) -> keras.Sequential:
    """A `keras.Sequential` of `layers` (Conv / MaxPool specifications) on `input_shape`
    (height, width, channels; None for any size). `dropout(layer)` gives the dropout rate
    after a convolution (None: no dropout layer)."""
    blocks = [keras.Input(shape=input_shape)]
    for index, layer in enumerate(layers):
        if isinstance(layer, Conv):
            blocks += conv_block(layer, name, index, batch_norm)
            rate = dropout(layer) if dropout else None
            if rate is not None:
                blocks.append(keras.layers.Dropout(rate, name=f"{name}_dropout{index}"))
        else:
            blocks.append(keras.layers.MaxPooling2D(layer.size, name=f"{name}_pool{index}"))
    return keras.Sequential(blocks, name=name)
