"""Layer specifications shared by both model families, and their size arithmetic."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Conv:
    """A convolution followed by batch normalisation (or dropout) and ReLU.

    `kernel` and `stride` are an int (square) or a (height, width) pair.
    """

    filters: int
    kernel: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: str = "valid"


@dataclasses.dataclass(frozen=True)
class MaxPool:
    """Max pooling with a square window and the same stride."""

    size: int = 2


@dataclasses.dataclass(frozen=True)
class AvgPool:
    """Average pooling over square blocks (`core.block_average`): a downscaled view."""

    size: int = 2


LAYER_TYPES = {"Conv": Conv, "MaxPool": MaxPool, "AvgPool": AvgPool}


def receptive_field(layers, axis: int = 0) -> tuple[int, int]:
    """Receptive field and total stride, in input pixels, of a layer stack along `axis`
    (0: height, 1: width)."""
    rf, stride = 1, 1
    for layer in layers:
        kernel, step = _kernel_stride(layer, axis)
        rf += (kernel - 1) * stride
        stride *= step
    return rf, stride


def output_size(layers, size, axis: int = 0):
    """Spatial output size of a layer stack along `axis` (0: height, 1: width), for an
    int `size` or an integer tensor of sizes."""
    for layer in layers:
        kernel, step = _kernel_stride(layer, axis)
        if isinstance(layer, Conv) and layer.padding == "same":
            size = -(-size // step)  # ceil, for ints and tensors alike
        else:
            size = (size - kernel) // step + 1
    return size


def _along(value, axis: int) -> int:
    return value if isinstance(value, int) else value[axis]


def _kernel_stride(layer, axis: int = 0) -> tuple[int, int]:
    if isinstance(layer, Conv):
        return _along(layer.kernel, axis), _along(layer.stride, axis)
    return layer.size, layer.size


class SerializableConfig:
    """`to_dict` / `from_dict` for a frozen dataclass whose fields hold numbers, strings,
    tuples and layer stacks; the dict is JSON-ready and is what `.keras` files store."""

    def to_dict(self) -> dict:
        return {field.name: _to_plain(getattr(self, field.name))
                for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict):
        return cls(**{key: _from_plain(value) for key, value in data.items()})


def _to_plain(value):
    if isinstance(value, (Conv, MaxPool, AvgPool)):
        return {"type": type(value).__name__, **dataclasses.asdict(value)}
    if isinstance(value, (tuple, list)):
        return [_to_plain(item) for item in value]
    return value


def _from_plain(value):
    # JSON turns tuples, such as (height, width) pairs, into lists.
    if isinstance(value, dict) and value.get("type") in LAYER_TYPES:
        return LAYER_TYPES[value["type"]](**{key: _from_plain(item) for key, item in
                                             value.items() if key != "type"})
    if isinstance(value, dict):
        # Only layers are stored as dicts; anything else was put there by other code.
        raise ValueError(
            f"A DCN config holds layers of the types {', '.join(LAYER_TYPES)}, not "
            f"{value.get('type', value)!r}: the saved config was edited or written by other "
            "code. Rebuild the model from a preset (dcn_keras.presets) and retrain it.")
    if isinstance(value, list):
        return tuple(_from_plain(item) for item in value)
    return value
