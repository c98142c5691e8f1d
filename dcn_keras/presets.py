"""The paper's presets, defined once."""

from __future__ import annotations

from dcn_keras.config import Conv, DCNConfig, MaxPool, MultiDigitConfig


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


def svhn() -> MultiDigitConfig:
    """SVHN multi-digit sequences in the transfer setting (paper sec. 4.2, appendix 6.2).

    Coarse: 7 convolutions without padding (5x5/2 with 24, 48, 128 filters; 4x5 with stride
    1x2 and 192; 1x4 with 192; two 1x1 with 1024): a 54x110 crop maps to one position, and
    positions are 8 x 16 pixels apart. Fine: 11 convolutions (5x5 with 48, 64, 128, 160,
    192 filters and zero padding, 2x2 max pooling after the 1st, 3rd and 5th; three 3x3
    with 192; three 1x1 with 1024). Both end in a 1x1 output layer of 5 + 5 x 11 logits,
    which the appendix does not count among the 7 and 11 layers. The paper leaves the
    padding of the 3x3 layers open; "same" keeps a 54x110 patch from shrinking to nothing.

    Batch normalisation follows each convolution, which the appendix does not list: without
    it, neither SGD nor Adam got past predicting lengths on MNIST house numbers within 3000
    steps, while with it Adam reached a third lower validation loss (README, "SVHN").
    """
    return MultiDigitConfig(
        name="svhn",
        channels=1,
        train_size=(64, 128),
        crop_size=(54, 110),
        coarse_layers=(
            Conv(24, 5, stride=2),
            Conv(48, 5, stride=2),
            Conv(128, 5, stride=2),
            Conv(192, (4, 5), stride=(1, 2)),
            Conv(192, (1, 4)),
            Conv(1024, 1),
            Conv(1024, 1),
        ),
        fine_layers=(
            Conv(48, 5, padding="same"),
            MaxPool(2),
            Conv(64, 5, padding="same"),
            Conv(128, 5, padding="same"),
            MaxPool(2),
            Conv(160, 5, padding="same"),
            Conv(192, 5, padding="same"),
            MaxPool(2),
            Conv(192, 3, padding="same"),
            Conv(192, 3, padding="same"),
            Conv(192, 3, padding="same"),
            Conv(1024, 1),
            Conv(1024, 1),
            Conv(1024, 1),
        ),
        num_patches=6,
        scales=(1.0,),
        batch_norm=True,
    )


PRESETS = {"cluttered_mnist": cluttered_mnist, "svhn": svhn}


def get(name: str) -> DCNConfig:
    """Look a preset up by name, with an error that lists the known ones."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
    return PRESETS[name]()
