"""Where each position of a coarse feature map looks in the image, derived from the Keras
layers of the network that computes the map.

Along each axis, position i of a map sees the input pixels
[i * stride + start, i * stride + start + receptive_field); `start` is negative where
"same" padding or `ZeroPadding2D` reaches before the first pixel. Each layer maps these
three numbers of its input to those of its output: a convolution or pooling with kernel k
(dilated to k'), stride s and p pixels of padding before gives
receptive_field + (k' - 1) * stride, stride * s and start - p * stride. Layers that act on
each position alone (batch normalisation, activations, dropout, `Dense` on the channels)
change nothing; merges take the union of their inputs' fields.
"""

from __future__ import annotations

import dataclasses

import keras

from dcn_keras.core.block_average import BlockAverage
from dcn_keras.core.patches import PatchGrid


@dataclasses.dataclass(frozen=True)
class Geometry:
    """Where each coarse position looks in the input image.

    Coarse position (i, j) sees a `receptive_field` square; its patch for the fine layers
    is the `patch_size` square centred on that field, starting at pixel
    (i * stride - offset, j * stride - offset), so border patches reach `pad_before` /
    `pad_after` pixels into zero padding.
    """

    map_height: int
    map_width: int
    stride: int
    receptive_field: int
    patch_size: int
    offset: int
    pad_before: tuple[int, int]
    pad_after: tuple[int, int]

    @property
    def num_positions(self) -> int:
        return self.map_height * self.map_width

    @property
    def grid(self) -> PatchGrid:
        """The patch placement for `core.patches`."""
        return PatchGrid((self.stride,) * 2, (self.offset,) * 2, (self.patch_size,) * 2)


@dataclasses.dataclass(frozen=True)
class Field:
    """One axis of a map: `size` positions, position i seeing the input pixels
    [i * stride + start, i * stride + start + receptive_field)."""

    size: int
    receptive_field: int = 1
    stride: int = 1
    start: int = 0

    def through(self, kernel: int, stride: int, before: int, size: int) -> Field:
        """After a window of `kernel` pixels stepping `stride`, `before` pixels of padding
        first, giving `size` positions."""
        return Field(size, self.receptive_field + (kernel - 1) * self.stride,
                     self.stride * stride, self.start - before * self.stride)


def patch_geometry(height: Field, width: Field, patch_size: int, image_size) -> Geometry:
    """The `Geometry` of a map whose axes are `height` and `width`, with `patch_size`
    patches centred on each position's receptive field, for `image_size` (H, W) images."""
    if (height.stride, height.receptive_field, height.start) != (
            width.stride, width.receptive_field, width.start):
        raise ValueError(
            "The coarse network steps or sees differently along the height and the width "
            f"(stride {height.stride} x {width.stride}, receptive field "
            f"{height.receptive_field} x {width.receptive_field}, start {height.start} x "
            f"{width.start}); DCN cuts square patches. Use square kernels, strides and "
            "padding in the coarse network.")
    offset = (patch_size - height.receptive_field) // 2 - height.start
    after = [max(0, (field.size - 1) * field.stride - offset + patch_size - size)
             for field, size in zip((height, width), image_size)]
    before = max(offset, 0)  # a patch smaller than its field may start inside the image
    return Geometry(height.size, width.size, height.stride, height.receptive_field,
                    patch_size, offset, (before, before), tuple(after))


def network_fields(network: keras.Model) -> tuple[Field, Field]:
    """The (height, width) `Field`s of the output map of `network`, a Keras model with one
    `[batch, H, W, C]` input of static H and W and one 4-D output (Sequential or
    functional; nested models are followed).

    Raises ValueError naming the layer where the fields cannot be derived: a global pool,
    a resize, a flatten or any layer whose output at a position does not come from a
    window of its input."""
    shape = tuple(network.inputs[0].shape) if network.inputs else None
    if shape is None or len(shape) != 4 or None in shape[1:3]:
        raise ValueError(
            f"The coarse network {network.name!r} must take [batch, H, W, C] images of a "
            f"fixed size, got input shape {shape}. Build it on keras.Input(shape=(H, W, C)).")
    return _through_model(network, (Field(shape[1]), Field(shape[2])))


def _through_model(model: keras.Model, fields: tuple[Field, Field]) -> tuple[Field, Field]:
    known = {id(model.inputs[0]): fields}
    # Each call of a layer is a node of the graph; `model.layers` is in the order of the
    # graph, so a node's inputs are known before it. (Keras has no public node API; the
    # nodes are where a nested model's outer output tensors are.)
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        for node in layer._inbound_nodes:
            found = [known[id(tensor)] for tensor in node.input_tensors
                     if id(tensor) in known]
            if found:
                fields_out = _through_layer(layer, found, model.name)
                for tensor in node.output_tensors:
                    known[id(tensor)] = fields_out
    output = model.outputs[0]
    if id(output) not in known or len(output.shape) != 4:
        raise ValueError(f"The coarse network {model.name!r} must end in a [batch, s1, s2, D] "
                         f"feature map, got output shape {tuple(output.shape)}.")
    return known[id(output)]


# Layers that act on each position of the map alone.
POINTWISE = (keras.layers.BatchNormalization, keras.layers.Activation, keras.layers.ReLU,
             keras.layers.LeakyReLU, keras.layers.PReLU, keras.layers.ELU,
             keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.GaussianNoise,
             keras.layers.GaussianDropout, keras.layers.Rescaling, keras.layers.Normalization,
             keras.layers.Dense, keras.layers.Identity)
MERGES = (keras.layers.Add, keras.layers.Subtract, keras.layers.Multiply,
          keras.layers.Average, keras.layers.Maximum, keras.layers.Minimum,
          keras.layers.Concatenate)
WINDOWS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
           keras.layers.MaxPooling2D, keras.layers.AveragePooling2D, BlockAverage)


def _through_layer(layer, fields: list, model_name: str) -> tuple[Field, Field]:
    where = f"layer {layer.name!r} ({type(layer).__name__}) of {model_name!r}"
    if isinstance(layer, keras.Model):
        if len(fields) != 1:
            raise ValueError(f"{where} takes several inputs; the coarse network must be one "
                             "chain of maps.")
        return _through_model(layer, fields[0])
    if isinstance(layer, MERGES):
        return _merge(fields, where)
    if isinstance(layer, (keras.layers.LayerNormalization, keras.layers.Softmax)) and \
            _channels_only(layer.axis):
        return fields[0]
    if isinstance(layer, POINTWISE):
        return fields[0]
    if isinstance(layer, WINDOWS):
        return _window(layer, fields[0], where)
    if isinstance(layer, (keras.layers.ZeroPadding2D, keras.layers.Cropping2D)):
        return _pad_or_crop(layer, fields[0])
    raise ValueError(
        f"Cannot derive where the coarse map looks through {where}: the coarse network may "
        "hold only convolutions, pooling windows, padding and layers that act on each "
        "position alone. A global pool, a resize, a flatten or attention over the whole map "
        "belongs in the top network.")


def _channels_only(axis) -> bool:
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return list(axes) in ([-1], [3])


def _merge(fields: list, where: str) -> tuple[Field, Field]:
    merged = []
    for axis in zip(*fields):
        if len({(f.size, f.stride) for f in axis}) > 1:
            raise ValueError(f"{where} merges maps of different sizes or strides "
                             f"({[(f.size, f.stride) for f in axis]}).")
        start = min(f.start for f in axis)
        end = max(f.start + f.receptive_field for f in axis)
        merged.append(Field(axis[0].size, end - start, axis[0].stride, start))
    return tuple(merged)


def _window(layer, fields: tuple[Field, Field], where: str) -> tuple[Field, Field]:
    config = layer.get_config()
    if isinstance(layer, BlockAverage):
        kernel = strides = layer.size
        dilation, config = (1, 1), {"padding": "valid"}
    elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        kernel, strides, dilation = config["pool_size"], config["strides"] or config[
            "pool_size"], (1, 1)
    else:
        kernel, strides, dilation = (config["kernel_size"], config["strides"],
                                     config["dilation_rate"])
    if config.get("data_format", "channels_last") != "channels_last":
        raise ValueError(f"{where} is channels_first; the DCN reads channels_last maps.")
    padding = config["padding"]
    out = []
    for field, k, s, d in zip(fields, _pair(kernel), _pair(strides), _pair(dilation)):
        span = d * (k - 1) + 1
        if padding == "same":
            size = -(-field.size // s)
            before = max((size - 1) * s + span - field.size, 0) // 2
        elif padding == "valid":
            size, before = (field.size - span) // s + 1, 0
        else:
            raise ValueError(f"{where} has padding {padding!r}; use 'valid' or 'same'.")
        if size < 1:
            raise ValueError(f"{where} has no output for a map of {field.size} positions: "
                             "the image is too small for the coarse network.")
        out.append(field.through(span, s, before, size))
    return tuple(out)


def _pad_or_crop(layer, fields: tuple[Field, Field]) -> tuple[Field, Field]:
    amounts = layer.padding if isinstance(layer, keras.layers.ZeroPadding2D) else layer.cropping
    sign = 1 if isinstance(layer, keras.layers.ZeroPadding2D) else -1
    out = []
    for field, (before, after) in zip(fields, amounts):
        out.append(Field(field.size + sign * (before + after), field.receptive_field,
                         field.stride, field.start - sign * before * field.stride))
    return tuple(out)


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)
