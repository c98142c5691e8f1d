"""What a DCN's coarse, fine and top networks must agree on, derived from the networks
themselves, with errors that name the network, the shapes and the fix."""

from __future__ import annotations

import keras

from dcn_keras.core import geometry as geometry_lib


def derive(coarse: keras.Model, fine: keras.Model, top: keras.Model,
           patch_size: int | None = None):
    """(image_shape (H, W, C), feature_dim D, num_classes, `Geometry`) of the DCN made of
    `coarse` (`[b, H, W, C]` -> `[b, s1, s2, D]`), `fine` (`[n, P, P, C]` -> `[n, D]` or
    `[n, 1, 1, D]`) and `top` (`[b, s1, s2, D]` -> `[b, classes]` logits). P is
    `patch_size`, else the fine network's fixed input size, else the coarse receptive
    field."""
    image_shape = tuple(coarse.inputs[0].shape[1:]) if coarse.inputs else None
    height, width = geometry_lib.network_fields(coarse)
    feature_dim = coarse.outputs[0].shape[-1]
    patch_size = _patch_size(fine, patch_size, height.receptive_field, image_shape[2])
    geometry = geometry_lib.patch_geometry(height, width, patch_size, image_shape[:2])
    _check_fine(fine, patch_size, image_shape[2], feature_dim)
    num_classes = _check_top(top, geometry, feature_dim)
    return image_shape, feature_dim, num_classes, geometry


def _patch_size(fine: keras.Model, patch_size: int | None, receptive_field: int,
                channels: int) -> int:
    shape = tuple(fine.inputs[0].shape) if getattr(fine, "inputs", None) else None
    if shape is not None and (len(shape) != 4 or shape[3] not in (None, channels)):
        raise ValueError(f"The fine network {fine.name!r} takes inputs of shape {shape}; it "
                         f"must take [n, P, P, {channels}] patches of the images.")
    fixed = shape[1:3] if shape is not None and None not in shape[1:3] else None
    if fixed is not None and fixed[0] != fixed[1]:
        raise ValueError(f"The fine network {fine.name!r} takes {fixed[0]}x{fixed[1]} inputs; "
                         "DCN cuts square patches. Build it on keras.Input(shape=(P, P, C)).")
    if patch_size is not None and fixed is not None and patch_size != fixed[0]:
        raise ValueError(f"patch_size is {patch_size}, but the fine network {fine.name!r} "
                         f"takes {fixed[0]}x{fixed[1]} inputs. Leave patch_size out or build "
                         "the fine network on patches of that size.")
    size = patch_size or (fixed[0] if fixed is not None else receptive_field)
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {size!r}.")
    return size


def _check_fine(fine: keras.Model, patch_size: int, channels: int, feature_dim: int) -> None:
    shape = _output_shape(fine, (2, patch_size, patch_size, channels), "fine")
    if shape not in ((2, feature_dim), (2, 1, 1, feature_dim)):
        raise ValueError(
            f"The fine network {fine.name!r} maps a batch of 2 {patch_size}x{patch_size} "
            f"patches to shape {shape}, not one vector of {feature_dim} (the coarse map's "
            "channels) per patch. End it with global pooling (pooling='avg' for a "
            f"keras.applications backbone) and, where its width differs, Dense({feature_dim}).")


def _check_top(top: keras.Model, geometry, feature_dim: int) -> int:
    map_shape = (geometry.map_height, geometry.map_width, feature_dim)
    shape = _output_shape(top, (2, *map_shape), "top")
    if len(shape) != 2:
        raise ValueError(f"The top network {top.name!r} maps a map of shape {[2, *map_shape]} "
                         f"to shape {shape}; it must give [batch, classes] logits. End it "
                         "with a global pool and Dense(classes).")
    last = top.layers[-1]
    if isinstance(last, keras.layers.Softmax) or getattr(last, "activation", None) in (
            keras.activations.softmax, keras.activations.sigmoid):
        raise ValueError(f"The top network {top.name!r} ends with a softmax or sigmoid "
                         f"({last.name!r}); DCN needs its logits for the entropy gradient and "
                         "the cross entropy. Leave the last layer without activation.")
    return shape[1]


def _output_shape(network: keras.Model, shape: tuple, role: str) -> tuple:
    """The output shape of `network` on a `shape` input, or an error naming both."""
    try:
        return tuple(network.compute_output_spec(keras.KerasTensor(shape)).shape)
    except Exception as error:  # Keras raises ValueError, TypeError or its own errors
        source = "patches" if role == "fine" else "coarse map"
        raise ValueError(f"The {role} network {network.name!r} cannot take the DCN's "
                         f"{source} of shape {list(shape)}: {error}") from None
