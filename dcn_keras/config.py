"""Configuration of a Dynamic Capacity Network as small frozen dataclasses."""

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
class Geometry:
    """Where each coarse position looks in the input image.

    Coarse position (i, j) covers the receptive field starting at pixel
    (i * stride, j * stride); its patch for the fine layers is the
    `patch_size` square starting `offset` pixels before that, so the image is
    zero padded by `pad_before` / `pad_after` pixels first.
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


@dataclasses.dataclass(frozen=True)
class DCNConfig:
    """Architecture and defaults of one DCN preset (paper appendix 6)."""

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int
    coarse_layers: tuple[Conv | MaxPool, ...]
    fine_layers: tuple[Conv | MaxPool, ...]
    top_layers: tuple[Conv | MaxPool, ...]
    patch_size: int
    num_patches: int = 8
    hint_weight: float = 0.1

    @property
    def feature_dim(self) -> int:
        return self.coarse_layers[-1].filters

    def geometry(self, height: int | None = None, width: int | None = None) -> Geometry:
        """Coarse map size and patch placement for an input of the given size."""
        height = height or self.image_shape[0]
        width = width or self.image_shape[1]
        rf, stride = receptive_field(self.coarse_layers)
        map_h = output_size(self.coarse_layers, height)
        map_w = output_size(self.coarse_layers, width)
        offset = (self.patch_size - rf) // 2
        after_h = max(0, (map_h - 1) * stride - offset + self.patch_size - height)
        after_w = max(0, (map_w - 1) * stride - offset + self.patch_size - width)
        return Geometry(map_h, map_w, stride, rf, self.patch_size, offset,
                        (offset, offset), (after_h, after_w))

    def resized(self, height: int, width: int) -> "DCNConfig":
        """The same architecture for `height` x `width` inputs."""
        return dataclasses.replace(self, image_shape=(height, width, self.image_shape[2]))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {
            "coarse_layers": _layers_to_list(self.coarse_layers),
            "fine_layers": _layers_to_list(self.fine_layers),
            "top_layers": _layers_to_list(self.top_layers),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "DCNConfig":
        data = dict(data)
        for key in ("coarse_layers", "fine_layers", "top_layers"):
            data[key] = _layers_from_list(data[key])
        data["image_shape"] = tuple(data["image_shape"])
        return cls(**data)


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


def _layers_to_list(layers) -> list[dict]:
    return [{"type": type(layer).__name__, **dataclasses.asdict(layer)} for layer in layers]


def _layers_from_list(items) -> tuple:
    kinds = {"Conv": Conv, "MaxPool": MaxPool}
    # JSON turns (height, width) pairs into lists.
    return tuple(kinds[item["type"]](**{k: tuple(v) if isinstance(v, list) else v
                                         for k, v in item.items() if k != "type"})
                 for item in items)


@dataclasses.dataclass(frozen=True)
class MultiDigitConfig:
    """A multi-digit DCN (paper sec. 4.2, appendix 6.2): fully convolutional coarse and
    fine layers whose feature vectors feed a 1x1 output layer, giving a probability map of
    whole-sequence predictions; the top layer averages that map (Eq. 11).

    Each position predicts the length (1..max_length) and max_length digits with
    `digit_classes` classes (10 digits + "no digit").
    """

    name: str
    channels: int
    train_size: tuple[int, int]  # images are resized to this for training
    crop_size: tuple[int, int]  # random training crops; one coarse position sees this much
    coarse_layers: tuple[Conv | MaxPool, ...]
    fine_layers: tuple[Conv | MaxPool, ...]
    max_length: int = 5
    digit_classes: int = 11
    num_patches: int = 6
    scales: tuple[float, ...] = (1.0,)
    conv_dropout: float = 0.2
    dense_dropout: float = 0.5
    batch_norm: bool = False

    @property
    def num_logits(self) -> int:
        return self.max_length + self.max_length * self.digit_classes

    @property
    def patch_size(self) -> tuple[int, int]:
        """The fine layers' input: the crop one coarse position covers."""
        return self.crop_size

    def map_size(self, height: int, width: int) -> tuple[int, int]:
        """Coarse probability map size for a `height` x `width` input."""
        return (output_size(self.coarse_layers, height, 0),
                output_size(self.coarse_layers, width, 1))

    def stride(self) -> tuple[int, int]:
        """Pixels between neighbouring coarse positions (height, width)."""
        return receptive_field(self.coarse_layers, 0)[1], receptive_field(self.coarse_layers, 1)[1]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {
            "coarse_layers": _layers_to_list(self.coarse_layers),
            "fine_layers": _layers_to_list(self.fine_layers),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "MultiDigitConfig":
        data = dict(data)
        for key in ("coarse_layers", "fine_layers"):
            data[key] = _layers_from_list(data[key])
        for key in ("train_size", "crop_size", "scales"):
            data[key] = tuple(data[key])
        return cls(**data)
