"""Configuration of the Megapixel MNIST models: the image side, the three networks of the
DCN as layer stacks, and the two baselines' views."""

from __future__ import annotations

import dataclasses

from dcn_keras.core.layers import AvgPool, Conv, MaxPool


@dataclasses.dataclass(frozen=True)
class MegapixelConfig:
    """Megapixel MNIST models (the attention-sampling benchmark, built from MNIST digits).

    The coarse layers read the whole `side` x `side` image, averaged over 4 x 4 blocks, at a
    stride of 16 pixels; the
    fine layers read a `patch_size` patch (a whole 28-pixel digit with room for the
    stride) into one vector of the coarse map's width; the top layers pool the map by its
    average, so that three digits of a class outweigh two. The full-resolution CNN runs the
    fine layers over the whole image; the low-resolution CNN reads the image downscaled by
    `view_scale` (1500 -> 180 pixels), the attention-sampling papers' baseline.
    """

    name: str = "megapixel_mnist"
    side: int = 1500
    num_classes: int = 10
    # The image averaged over 4 x 4 blocks first: a convolution at full resolution would
    # hold several copies of the megapixel image in memory (docs/megapixel_mnist.md).
    coarse_layers: tuple = (AvgPool(4), Conv(16, 3, stride=2), Conv(32, 3, stride=2),
                            Conv(32, 3))
    fine_layers: tuple = (Conv(32, 5, stride=2, padding="same"),
                          Conv(32, 3, padding="same"), MaxPool(2),
                          Conv(32, 3, padding="same"), MaxPool(2), Conv(32, 3))
    top_width: int = 64
    low_resolution_layers: tuple = (Conv(32, 3, padding="same"), MaxPool(2),
                                    Conv(32, 3, padding="same"), MaxPool(2),
                                    Conv(32, 3, padding="same"))
    patch_size: int = 60
    num_patches: int = 10
    hint_weight: float = 0.1
    view_scale: float = 0.12

    @property
    def feature_dim(self) -> int:
        return self.coarse_layers[-1].filters

    @property
    def view_side(self) -> int:
        """The low-resolution view's side, `side` * `view_scale` rounded."""
        return max(1, round(self.side * self.view_scale))

    def resized(self, side: int) -> MegapixelConfig:
        """The same models for `side` x `side` images."""
        return dataclasses.replace(self, side=int(side))


def megapixel_mnist() -> MegapixelConfig:
    """1500 x 1500 Megapixel MNIST, 10 patches of 60 x 60."""
    return MegapixelConfig()
