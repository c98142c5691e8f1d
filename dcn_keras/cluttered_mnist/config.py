"""The Cluttered MNIST preset (a `DCNConfig`), its recipes and the kinds of model it trains."""

from __future__ import annotations

from dcn_keras.classifier.config import DCNConfig
from dcn_keras.core.layers import Conv, MaxPool
from dcn_keras.recipe import Recipe, profiles


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
