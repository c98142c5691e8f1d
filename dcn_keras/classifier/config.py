"""`DCNConfig`: the layers, patches and hints of a single-label DCN, and the geometry they
give."""

from __future__ import annotations

import dataclasses

from dcn_keras.core.geometry import Geometry
from dcn_keras.core.layers import Conv, MaxPool, SerializableConfig, output_size, receptive_field

# How the fine layers see a position (`DCNConfig.fine_view`).
FINE_VIEWS = ("patch", "fine_model")


@dataclasses.dataclass(frozen=True)
class DCNConfig(SerializableConfig):
    """Architecture and defaults of one single-label DCN preset (paper appendix 6.1)."""

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int
    coarse_layers: tuple[Conv | MaxPool, ...]
    fine_layers: tuple[Conv | MaxPool, ...]
    top_layers: tuple[Conv | MaxPool, ...]
    patch_size: int
    num_patches: int = 8
    hint_weight: float = 0.1
    fine_view: str = "patch"

    def __post_init__(self):
        if self.fine_view not in FINE_VIEWS:
            raise ValueError(f"fine_view must be one of {FINE_VIEWS}, got {self.fine_view!r}.")
        # Smaller images leave the top layers no output, which Keras reports only as a
        # negative size deep inside the model, and the patch count as "from 1 to 0".
        smallest = self.smallest_input()
        if self.image_shape[0] < smallest[0] or self.image_shape[1] < smallest[1]:
            raise ValueError(f"{self.name} takes images of at least {smallest[0]}x{smallest[1]} "
                             f"pixels, got {self.image_shape[0]}x{self.image_shape[1]}: its top "
                             "layers would have no output. Pass a larger size (--input-size).")

    def smallest_input(self) -> tuple[int, int]:
        """The smallest (height, width) that gives the top layers an output."""
        def smallest(axis: int) -> int:
            size = 1
            while output_size(self.top_layers,
                              output_size(self.coarse_layers, size, axis), axis) < 1:
                size += 1
            return size
        return smallest(0), smallest(1)

    @property
    def feature_dim(self) -> int:
        return self.coarse_layers[-1].filters

    @property
    def fine_window(self) -> int:
        """The side of the window the fine layers read for one position.

        "patch" (the paper's DCN): the `patch_size` patch alone, the layers' zero padding
        at its edges. "fine_model": the whole receptive field of the fine layers, through
        valid convolutions, which is what the fine model (the fine layers run
        convolutionally over the image, their padding only at its border) computes at
        that position. A DCN composed from a trained fine model reads its vectors this
        way, because its top layers learned to read those (docs/cluttered_mnist.md).
        """
        if self.fine_view == "patch":
            return self.patch_size
        return receptive_field(self.fine_layers)[0]

    @property
    def valid_fine_layers(self) -> tuple[Conv | MaxPool, ...]:
        """The fine layers with valid convolutions, as the "fine_model" view runs them."""
        return tuple(dataclasses.replace(layer, padding="valid") if isinstance(layer, Conv)
                     else layer for layer in self.fine_layers)

    def geometry(self, height: int | None = None, width: int | None = None) -> Geometry:
        """Coarse map size and patch placement for an input of the given size; the patch
        is the `fine_window`, centred on the coarse receptive field."""
        height = height or self.image_shape[0]
        width = width or self.image_shape[1]
        rf, stride = receptive_field(self.coarse_layers)
        map_h = output_size(self.coarse_layers, height)
        map_w = output_size(self.coarse_layers, width)
        window = self.fine_window
        offset = (window - rf) // 2
        after_h = max(0, (map_h - 1) * stride - offset + window - height)
        after_w = max(0, (map_w - 1) * stride - offset + window - width)
        return Geometry(map_h, map_w, stride, rf, window, offset,
                        (offset, offset), (after_h, after_w))

    def resized(self, height: int, width: int) -> DCNConfig:
        """The same architecture for `height` x `width` inputs."""
        return dataclasses.replace(self, image_shape=(height, width, self.image_shape[2]))
