"""Configuration of the Megapixel MNIST models: the image side, the three networks of the
DCN as layer stacks, and the two baselines' views."""

from __future__ import annotations

import dataclasses

from dcn_keras.core.layers import AvgPool, Conv, MaxPool
from dcn_keras.recipe import Recipe, profiles


@dataclasses.dataclass(frozen=True)
class MegapixelConfig:
    """Megapixel MNIST models (the attention-sampling benchmark, built from MNIST digits).

    The coarse layers read the whole `side` x `side` image, averaged over 4 x 4 blocks, at a
    stride of 16 pixels; the fine layers read a `patch_size` patch (a whole 28-pixel digit
    with room for the stride) into one vector of the coarse map's width; the top layers pool
    the map by its average, so that three digits of a class outweigh two, normalised over
    the batch. The full-resolution CNN runs the fine layers over the whole image; the
    low-resolution CNN reads the image downscaled by `view_scale` (1500 -> 180 pixels), the
    attention-sampling papers' baseline.
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
    # No hint term: the squared distance between 32-d coarse and fine vectors summed over
    # the patches is hundreds of times the cross entropy here, so at the Cluttered MNIST
    # weight (0.1) it drives the coarse layers alone and the DCN stays near chance
    # (docs/megapixel_mnist.md).
    hint_weight: float = 0.0
    view_scale: float = 0.12

    @property
    def feature_dim(self) -> int:
        return self.coarse_layers[-1].filters

    @property
    def view_side(self) -> int:
        """The low-resolution view's side, `side` * `view_scale` rounded."""
        return max(1, round(self.side * self.view_scale))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.side, self.side, 1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def resized(self, side: int) -> MegapixelConfig:
        """The same models for `side` x `side` images."""
        return dataclasses.replace(self, side=int(side))


def megapixel_mnist() -> MegapixelConfig:
    """1500 x 1500 Megapixel MNIST, 10 patches of 60 x 60."""
    return MegapixelConfig()


RECIPES = profiles(
    # The attention-sampling recipe's data sizes (5,000 training and 1,000 test canvases);
    # the DCN with seeds 0-2, the low-resolution CNN with seed 0 (`first_seed_kinds`). The
    # full-resolution CNN is not in an experiment: at 1500 x 1500 its training steps take
    # about 47 minutes an epoch on 2 cores (docs/megapixel_mnist.md).
    # Batch-norm statistics are re-estimated on 512 training canvases before each
    # validation: the moving averages trail the weights, and the top's normalised average,
    # whose spread over the batch is small, amplifies the lag (validation at chance while
    # training accuracy rose past 50%, docs/megapixel_mnist.md).
    paper=Recipe(train_images=5000, valid_images=500, test_images=1000, epochs=30,
                 batch_size=16, seeds=(0, 1, 2), batch_norm_images=512),
    quick=dict(seeds=(0,), train_images=500, valid_images=100, test_images=200, epochs=3,
               num_shards=2, max_error_gap=0.10, batch_norm_images=128),
    # CI's end-to-end check of the wiring: seconds of training, meaningless errors.
    smoke=dict(seeds=(0,), train_images=8, valid_images=4, test_images=4, epochs=1,
               batch_size=2, batch_norm_images=4, num_shards=1, max_error_gap=1.0),
)
