"""The coarse and fine networks of the house-numbers DCN, built from a `MultiDigitConfig`."""

from __future__ import annotations

import keras

from dcn_keras.core.conv_stack import stack
from dcn_keras.house_numbers.config import MultiDigitConfig


def part_network(config: MultiDigitConfig, part: str, height=None,
                 width=None) -> keras.Sequential:
    """f_c or f_f of a house-numbers preset plus its 1x1 output layer, fully convolutional:
    `[batch, H, W, C]` -> `[batch, s1, s2, num_logits]` logits of a probability map.

    `part` is "coarse" or "fine"; `height`/`width` may be None (any size). Convolutions
    have ReLU (after batch normalisation when `config.batch_norm`) and dropout
    (`dense_dropout` after 1x1 layers, `conv_dropout` after the others), as in the paper's
    appendix 6.2.
    """
    layers = {"coarse": config.coarse_layers, "fine": config.fine_layers}[part]

    def dropout(layer):
        return config.dense_dropout if layer.kernel in (1, (1, 1)) else config.conv_dropout

    network = stack(layers, (height, width, config.channels), part, config.batch_norm, dropout)
    # Softmaxes and entropies need float32 even when the body runs in bfloat16.
    network.add(keras.layers.Conv2D(config.num_logits, 1, name=f"{part}_logits",
                                    dtype="float32"))
    return network
