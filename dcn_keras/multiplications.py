"""Multiplication counts, layer by layer, of built Keras networks.

Counted: the weight-activation multiplications of every convolution and dense
layer (out_h * out_w * k_h * k_w * c_in * c_out and d_in * d_out). Not counted,
as in the paper's accounting: batch normalisation (folded into the preceding
convolution at inference), ReLU, pooling, padding and the softmax.
"""

from __future__ import annotations

import keras


def layer_multiplications(layer, input_shape) -> int:
    """Multiplications of one layer for one example of `input_shape` (batch first)."""
    if isinstance(layer, keras.layers.Conv2D):
        _, out_h, out_w, _ = layer.compute_output_shape(input_shape)
        kernel_h, kernel_w = layer.kernel_size
        return out_h * out_w * kernel_h * kernel_w * input_shape[-1] * layer.filters
    if isinstance(layer, keras.layers.Dense):
        return input_shape[-1] * layer.units
    return 0


def network_multiplications(network: keras.Sequential) -> int:
    """Multiplications of a built `keras.Sequential` for one example."""
    shape = (1, *network.input_shape[1:])
    total = 0
    for layer in network.layers:
        total += layer_multiplications(layer, shape)
        shape = layer.compute_output_shape(shape)
    return total
