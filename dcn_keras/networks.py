"""Coarse, fine and top sub-networks built from a `DCNConfig`."""

from __future__ import annotations

import keras

from dcn_keras.config import Conv, DCNConfig, MultiDigitConfig


def _conv_block(layer: Conv, name: str, index: int, batch_norm: bool = True) -> list:
    """Conv -> batch normalisation -> ReLU, or conv with ReLU (and bias) without it."""
    if not batch_norm:
        return [keras.layers.Conv2D(layer.filters, layer.kernel, strides=layer.stride,
                                    padding=layer.padding, activation="relu",
                                    name=f"{name}_conv{index}")]
    return [
        keras.layers.Conv2D(layer.filters, layer.kernel, strides=layer.stride,
                            padding=layer.padding, use_bias=False, name=f"{name}_conv{index}"),
        keras.layers.BatchNormalization(name=f"{name}_bn{index}"),
        keras.layers.ReLU(name=f"{name}_relu{index}"),
    ]


def _stack(layers, input_shape, name) -> keras.Sequential:
    blocks = [keras.Input(shape=input_shape)]
    for index, layer in enumerate(layers):
        if isinstance(layer, Conv):
            blocks += _conv_block(layer, name, index)
        else:
            blocks.append(keras.layers.MaxPooling2D(layer.size, name=f"{name}_pool{index}"))
    return keras.Sequential(blocks, name=name)


def coarse_network(config: DCNConfig, height=None, width=None) -> keras.Sequential:
    """f_c: `[batch, H, W, C]` images -> `[batch, s1, s2, D]` coarse feature map.

    `height`/`width` default to the preset's image size; `None` in the input
    shape is not used so that shapes stay static for the fast path.
    """
    h, w, c = config.image_shape
    return _stack(config.coarse_layers, (height or h, width or w, c), "coarse")


def fine_network(config: DCNConfig, height=None, width=None) -> keras.Sequential:
    """f_f: `[n, P, P, C]` patches (P = patch size) -> `[n, 1, 1, D]` vectors.

    With `height`/`width` it is built for whole padded images instead, which is
    how the fine baseline applies it convolutionally.
    """
    c = config.image_shape[2]
    p = config.patch_size
    return _stack(config.fine_layers, (height or p, width or p, c), "fine")


def top_network(config: DCNConfig, map_height=None, map_width=None) -> keras.Sequential:
    """g: `[batch, s1, s2, D]` feature map -> `[batch, num_classes]` logits."""
    geometry = config.geometry()
    body = _stack(config.top_layers, (map_height or geometry.map_height,
                                      map_width or geometry.map_width, config.feature_dim), "top")
    body.add(keras.layers.GlobalMaxPooling2D(name="top_global_max"))
    body.add(keras.layers.Dense(config.num_classes, name="top_logits"))
    return body


def multi_digit_network(config: MultiDigitConfig, part: str, height=None,
                        width=None) -> keras.Sequential:
    """f_c or f_f of a multi-digit preset plus its 1x1 output layer, fully convolutional:
    `[batch, H, W, C]` -> `[batch, s1, s2, num_logits]` logits of a probability map.

    `part` is "coarse" or "fine"; `height`/`width` may be None (any size). Convolutions
    have ReLU (after batch normalisation when `config.batch_norm`) and dropout
    (`dense_dropout` after 1x1 layers, `conv_dropout` after the others), as in the paper's
    appendix 6.2.
    """
    layers = {"coarse": config.coarse_layers, "fine": config.fine_layers}[part]
    blocks = [keras.Input(shape=(height, width, config.channels))]
    for index, layer in enumerate(layers):
        if isinstance(layer, Conv):
            dense = layer.kernel in (1, (1, 1))
            blocks += _conv_block(layer, part, index, config.batch_norm)
            blocks.append(keras.layers.Dropout(
                config.dense_dropout if dense else config.conv_dropout,
                name=f"{part}_dropout{index}"))
        else:
            blocks.append(keras.layers.MaxPooling2D(layer.size, name=f"{part}_pool{index}"))
    # Softmaxes and entropies need float32 even when the body runs in bfloat16.
    blocks.append(keras.layers.Conv2D(config.num_logits, 1, name=f"{part}_logits",
                                      dtype="float32"))
    return keras.Sequential(blocks, name=part)
