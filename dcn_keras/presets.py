"""The paper's presets, defined once."""

from __future__ import annotations

from dcn_keras.config import Conv, DCNConfig, MaxPool


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


PRESETS = {"cluttered_mnist": cluttered_mnist}


def get(name: str) -> DCNConfig:
    """Look a preset up by name, with an error that lists the known ones."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
    return PRESETS[name]()
