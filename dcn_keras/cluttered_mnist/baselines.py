"""Baselines from the same parts: coarse model g(f_c(x)) and fine model g(f_f(x))."""

from __future__ import annotations

import keras

from dcn_keras.classifier import networks
from dcn_keras.classifier.config import DCNConfig


def coarse_model(config: DCNConfig) -> keras.Sequential:
    """h_c = g o f_c: `[batch, H, W, C]` -> `[batch, classes]` probabilities."""
    return keras.Sequential([
        keras.Input(shape=config.image_shape),
        networks.coarse_network(config),
        networks.top_network(config),
        keras.layers.Softmax(name="probabilities"),
    ], name=f"{config.name}_coarse_model")


def fine_model(config: DCNConfig) -> keras.Sequential:
    """h_f = g o f_f: `[batch, H, W, C]` -> `[batch, classes]` probabilities.

    The fine layers run convolutionally over the padded image, so output
    position (i, j) is centred on the patch DCN would cut for coarse position
    (i, j), and the map has the coarse map's size. It sees the fine layers' whole
    24x24 receptive field there, where DCN's 14x14 patch is zero padded at its edges,
    so the two vectors differ (`DCNConfig.fine_view`).
    """
    geometry = config.geometry()
    height = config.image_shape[0] + geometry.pad_before[0] + geometry.pad_after[0]
    width = config.image_shape[1] + geometry.pad_before[1] + geometry.pad_after[1]
    return keras.Sequential([
        keras.Input(shape=config.image_shape),
        keras.layers.ZeroPadding2D((tuple(zip(geometry.pad_before, geometry.pad_after))),
                                   name="pad"),
        networks.fine_network(config, height, width),
        networks.top_network(config),
        keras.layers.Softmax(name="probabilities"),
    ], name=f"{config.name}_fine_model")
