"""The paper's presets, defined once in their families, and the registry that finds them."""

from __future__ import annotations

from dcn_keras.cluttered_mnist.config import DCNConfig, cluttered_mnist
from dcn_keras.multi_digit.config import MultiDigitConfig, svhn

PRESETS = {"cluttered_mnist": cluttered_mnist, "svhn": svhn}


def get(name: str) -> DCNConfig | MultiDigitConfig:
    """The config of preset `name`, with an error that lists the known ones."""
    return family(name).config


def family(name: str):
    """The family object of preset `name` (`dcn_keras.family.Family`)."""
    from dcn_keras.cluttered_mnist.family import ClutteredMnistFamily
    from dcn_keras.multi_digit.family import MultiDigitFamily

    families = {"cluttered_mnist": ClutteredMnistFamily, "svhn": MultiDigitFamily}
    if name not in families:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(families)}.")
    return families[name]()


def family_of_dataset(dataset: str):
    """The family whose benchmark `dcn data --dataset` calls `dataset`."""
    names = {"cluttered_mnist": "cluttered_mnist", "mnist_house_numbers": "svhn"}
    if dataset not in names:
        raise ValueError(f"Unknown data set {dataset!r}; choose one of {sorted(names)}.")
    return family(names[dataset])
