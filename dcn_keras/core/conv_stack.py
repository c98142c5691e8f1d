"""The convolution stacks of both families, built from `core.layers` specifications."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from dcn_keras.core.block_average import BlockAverage
from dcn_keras.core.layers import AvgPool, Conv


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
    """A `keras.Sequential` of `layers` (Conv / MaxPool / AvgPool specifications) on `input_shape`
    (height, width, channels; None for any size). `dropout(layer)` gives the dropout rate
    after a convolution (None: no dropout layer)."""
    blocks = [keras.Input(shape=input_shape)]
    for index, layer in enumerate(layers):
        if isinstance(layer, Conv):
            blocks += conv_block(layer, name, index, batch_norm)
            rate = dropout(layer) if dropout else None
            if rate is not None:
                blocks.append(keras.layers.Dropout(rate, name=f"{name}_dropout{index}"))
        elif isinstance(layer, AvgPool):
            blocks.append(BlockAverage(layer.size, name=f"{name}_average{index}"))
        else:
            blocks.append(keras.layers.MaxPooling2D(layer.size, name=f"{name}_pool{index}"))
    return keras.Sequential(blocks, name=name)


def fold_batch_norm(trained: keras.Sequential, target: keras.Sequential) -> None:
    """Load into `target`, the same `stack` built with `batch_norm=False`, the weights of
    `trained` with each batch normalisation folded into the convolution before it:
    kernel * s and (bias - mean) * s + beta with s = gamma / sqrt(variance + epsilon), the
    normalisation's inference statistics. At inference `target` computes what `trained`
    does (to float rounding) with one fused convolution + bias + ReLU op per block where
    `trained` runs a convolution and separate normalisation and ReLU ops, each another
    pass over the activations."""
    layers = trained.layers
    folded = {}
    for layer, after in zip(layers, [*layers[1:], None]):
        if not isinstance(layer, keras.layers.Conv2D):
            continue
        kernel = _numpy(layer.kernel)
        bias = _numpy(layer.bias if layer.use_bias else None, np.zeros(kernel.shape[-1]))
        if isinstance(after, keras.layers.BatchNormalization):
            scale = (_numpy(after.gamma, np.ones_like(bias))
                     / np.sqrt(_numpy(after.moving_variance) + after.epsilon))
            kernel = kernel * scale
            bias = (bias - _numpy(after.moving_mean)) * scale + _numpy(after.beta, 0.0)
        folded[layer.name] = [kernel.astype(np.float32), bias.astype(np.float32)]
    convolutions = [layer for layer in target.layers
                    if isinstance(layer, keras.layers.Conv2D)]
    if sorted(layer.name for layer in convolutions) != sorted(folded) or any(
            isinstance(layer, keras.layers.BatchNormalization) for layer in target.layers):
        raise ValueError(f"{target.name} is not {trained.name} built without batch "
                         "normalisation.")
    for layer in convolutions:
        layer.set_weights(folded[layer.name])


def _numpy(variable, default=None) -> np.ndarray:
    """A weight as a float64 array, or `default` where the layer has none (no bias, no
    gamma or beta)."""
    return np.asarray(default if variable is None else keras.ops.convert_to_numpy(variable),
                      np.float64)
