"""Configuration of the Cluttered MNIST DCN: architecture, geometry, preset and recipes."""

from __future__ import annotations

import dataclasses

from dcn_keras.core.geometry import Geometry
from dcn_keras.core.layers import Conv, MaxPool, SerializableConfig, output_size, receptive_field
from dcn_keras.recipe import Recipe, profiles

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


def cluttered_mnist() -> DCNConfig:
    """100x100 Cluttered MNIST (paper section 4.1, appendix 6.1).

    Coarse: two strided convs giving a 23x23x24 map whose vectors each see an
    11x11 receptive field. Fine: five 3x3 convs mapping a 14x14 patch (the
    receptive field plus context) to one 24-d vector. Top: conv 4x4/2 with 96
    filters, global max pooling and a 10-way softmax.
    """
    return DCNConfig(
        name="cluttered_mnist",
        image_shape=(100, 100, 1),
        num_classes=10,
        coarse_layers=(Conv(12, 7, stride=2), Conv(24, 3, stride=2)),
        fine_layers=(
            Conv(24, 3),
            Conv(24, 3, padding="same"),
            MaxPool(2),
            Conv(24, 3, padding="same"),
            Conv(24, 3, padding="same"),
            MaxPool(2),
            Conv(24, 3),
        ),
        top_layers=(Conv(96, 4, stride=2),),
        patch_size=14,
        num_patches=8,
        hint_weight=0.1,
    )


RECIPES = profiles(
    # `make experiment`, Table 1 (docs/cluttered_mnist.md): every model with seeds 0-2, 12
    # epochs of 28k canvases drawn anew each epoch from the 7k training digits, Adam with
    # cosine decay; scored on 10k test canvases of the held-out digits.
    paper=Recipe(train_images=28000, valid_images=1000, test_images=10000, epochs=12,
                 seeds=(0, 1, 2), fresh_canvases=True),
    # The main job, `make demo`, which must finish within 10 minutes on 2 cores. Batches of 16
    # give four times the steps of batches of 64 for the same images, and re-estimated batch
    # normalisation statistics make so short a run validate above chance
    # (docs/pipeline.md). A DCN epoch costs about a third of the fine model's, so the DCN
    # gets more epochs. So short a run leaves the DCN well behind the fine model: it is
    # blessed (and pushed) within 10 points of it.
    quick=dict(seeds=(0,), fresh_canvases=False, train_images=4000, valid_images=500,
               test_images=1000, epochs=2, dcn_epochs=5, batch_size=16,
               batch_norm_images=2048, num_shards=2, max_error_gap=0.10),
    # CI's end-to-end check of the wiring: seconds of training, meaningless errors.
    smoke=dict(seeds=(0,), train_images=96, valid_images=32, test_images=64, epochs=1,
               batch_size=32, num_shards=2, max_error_gap=1.0),
)

# What `dcn train --model` builds, in the order of the paper's Table 1.
MODEL_KINDS = ("coarse", "fine", "dcn_no_hints", "dcn")
TITLES = {"coarse": "Coarse model", "fine": "Fine model",
          "dcn_no_hints": "DCN w/o hints", "dcn": "DCN with hints",
          "composed": "DCN composed at test time"}
# Kinds that are DCNs: they get an error-versus-k curve and may have hint histories.
DCN_KINDS = ("dcn_no_hints", "dcn", "composed")
