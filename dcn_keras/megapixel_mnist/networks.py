"""The Megapixel MNIST models as Keras networks: the DCN built from its coarse, fine and top
networks (`DynamicCapacityNetwork.from_networks`), the full-resolution CNN and the
low-resolution CNN."""

from __future__ import annotations

import keras

from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.core.conv_stack import stack
from dcn_keras.megapixel_mnist.config import MegapixelConfig

MODEL_KINDS = ("low_resolution", "full_resolution", "dcn")


def coarse_network(config: MegapixelConfig) -> keras.Sequential:
    """`[b, side, side, 1]` images -> `[b, s, s, D]` coarse map, stride 16."""
    return stack(config.coarse_layers, (config.side, config.side, 1), "coarse")


def fine_network(config: MegapixelConfig) -> keras.Sequential:
    """`[n, P, P, 1]` patches -> `[n, D]` vectors: the fine layers, then the maximum over the
    patch."""
    network = stack(config.fine_layers, (config.patch_size, config.patch_size, 1), "fine")
    network.add(keras.layers.GlobalMaxPooling2D(name="fine_max"))
    return network


def top_network(config: MegapixelConfig, name: str = "top") -> keras.Sequential:
    """`[b, s1, s2, D]` map of any size -> `[b, classes]` logits: a bias-free 1x1
    convolution (so the DCN's refined pass is sparse), the average over the map, batch
    normalisation, a dense layer."""
    network = stack((), (None, None, config.feature_dim), name)
    network.add(keras.layers.Conv2D(config.top_width, 1, use_bias=False,
                                    name=f"{name}_conv"))
    network.add(keras.layers.ReLU(name=f"{name}_relu"))
    network.add(keras.layers.GlobalAveragePooling2D(name=f"{name}_average"))
    # The few positions that hold digits make a small share of the average; normalised
    # over the batch, their share is what the dense layer reads, at a usable scale.
    network.add(keras.layers.BatchNormalization(name=f"{name}_average_bn"))
    network.add(keras.layers.Dense(config.num_classes, name=f"{name}_logits"))
    return network


def dcn(config: MegapixelConfig, name: str = "dcn") -> DynamicCapacityNetwork:
    """The DCN: coarse layers everywhere, fine layers on the `num_patches` most salient
    patches, the top on the refined map."""
    return DynamicCapacityNetwork.from_networks(
        coarse_network(config), fine_network(config), top_network(config),
        num_patches=config.num_patches, hint_weight=config.hint_weight, name=name)


def full_resolution(config: MegapixelConfig) -> keras.Sequential:
    """The fine layers over the whole `[b, side, side, 1]` image, then the top layers:
    `[b, classes]` logits."""
    network = stack(config.fine_layers, (config.side, config.side, 1), "full_resolution")
    for layer in top_network(config, "full_resolution_top").layers:
        network.add(layer)
    return network


def low_resolution(config: MegapixelConfig) -> keras.Sequential:
    """A CNN on the `[b, v, v, 1]` downscaled view (v = `config.view_side`) -> `[b, classes]`
    logits."""
    side = config.view_side
    network = stack(config.low_resolution_layers, (side, side, 1), "low_resolution")
    network.add(keras.layers.Conv2D(config.feature_dim, 1, name="low_resolution_features"))
    for layer in top_network(config, "low_resolution_top").layers:
        network.add(layer)
    return network


def build(config: MegapixelConfig, kind: str) -> keras.Model:
    """The `kind` model (`MODEL_KINDS`) of `config`."""
    builders = {"low_resolution": low_resolution, "full_resolution": full_resolution,
                "dcn": dcn}
    if kind not in builders:
        raise ValueError(f"Unknown Megapixel MNIST model {kind!r}; choose one of {MODEL_KINDS}.")
    return builders[kind](config)
