"""Coarse, fine and top sub-networks of a single-label DCN, built from a `DCNConfig`, and the
bridge of a composed DCN."""

from __future__ import annotations

import keras

from dcn_keras.classifier.config import DCNConfig
from dcn_keras.core.conv_stack import stack


def coarse_network(config: DCNConfig, height=None, width=None) -> keras.Sequential:
    """f_c: `[batch, H, W, C]` images -> `[batch, s1, s2, D]` coarse feature map.

    `height`/`width` default to the preset's image size; `None` in the input
    shape is not used so that shapes stay static for the fast path.
    """
    h, w, c = config.image_shape
    return stack(config.coarse_layers, (height or h, width or w, c), "coarse")


def fine_network(config: DCNConfig, height=None, width=None) -> keras.Sequential:
    """f_f: `[n, P, P, C]` windows (P = `config.fine_window`) -> `[n, 1, 1, D]` vectors,
    with valid convolutions in the "fine_model" view.

    With `height`/`width` it is built for whole padded images instead, with the layers'
    own padding, which is how the fine baseline applies it convolutionally. Both views
    hold the same weights.
    """
    c = config.image_shape[2]
    if height or width:
        return stack(config.fine_layers, (height, width, c), "fine")
    p = config.fine_window
    layers = config.fine_layers if config.fine_view == "patch" else config.valid_fine_layers
    return stack(layers, (p, p, c), "fine")


def top_network(config: DCNConfig, map_height=None, map_width=None) -> keras.Sequential:
    """g: `[batch, s1, s2, D]` feature map -> `[batch, num_classes]` logits."""
    geometry = config.geometry()
    body = stack(config.top_layers, (map_height or geometry.map_height,
                                     map_width or geometry.map_width, config.feature_dim), "top")
    body.add(keras.layers.GlobalMaxPooling2D(name="top_global_max"))
    body.add(keras.layers.Dense(config.num_classes, name="top_logits"))
    return body


def bridge_network(map_shape: tuple[int, int, int], window: int) -> keras.Sequential:
    """The bridge of a composed DCN: a `[batch, s1, s2, D]` coarse map (`map_shape`
    (s1, s2, D)) -> the same shape in the fine vectors' space, an affine map of each
    `window` x `window` neighbourhood (same padding, so the coarse geometry and its
    patches stay as they are)."""
    return keras.Sequential([
        keras.Input(shape=tuple(map_shape)),
        keras.layers.Conv2D(map_shape[-1], window, padding="same", name="bridge_conv"),
    ], name="bridge")
