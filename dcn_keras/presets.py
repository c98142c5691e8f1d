"""The paper's presets, defined once in their families, and the registry that finds them.

Earlier names (`svhn` for `house_numbers`, `mnist_house_numbers` for the data set) still
work for one release and say what to use instead.
"""

from __future__ import annotations

import warnings

from dcn_keras.cluttered_mnist.config import DCNConfig, cluttered_mnist
from dcn_keras.cluttered_mnist.family import ClutteredMnistFamily
from dcn_keras.family import Family
from dcn_keras.house_numbers.config import PRESET_ALIASES, MultiDigitConfig, house_numbers
from dcn_keras.house_numbers.family import MultiDigitFamily

PRESETS = {"cluttered_mnist": cluttered_mnist, "house_numbers": house_numbers}
FAMILIES = {"cluttered_mnist": ClutteredMnistFamily, "house_numbers": MultiDigitFamily}
# `dcn data --dataset` names: the data set each family trains on.
DATASETS = {"cluttered_mnist": "cluttered_mnist", "house_numbers": "house_numbers"}
DATASET_ALIASES = {"mnist_house_numbers": "house_numbers"}


def canonical(name: str, aliases: dict[str, str] = PRESET_ALIASES, what: str = "preset") -> str:
    """`name`, or the current name of a deprecated one (with a FutureWarning saying so)."""
    if name in aliases:
        warnings.warn(f"The {what} name {name!r} is deprecated and will be removed in the next "
                      f"release; use {aliases[name]!r}.", FutureWarning, stacklevel=3)
        return aliases[name]
    return name


def get(name: str) -> DCNConfig | MultiDigitConfig:
    """The config of preset `name`, with an error that lists the known ones."""
    return family(name).config


def family(name: str) -> Family:
    """The family object of preset `name` (`dcn_keras.family.Family`)."""
    name = canonical(name)
    if name not in FAMILIES:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(FAMILIES)}.")
    return FAMILIES[name]()


def family_of_dataset(dataset: str) -> Family:
    """The family whose data set `dcn data --dataset` calls `dataset`."""
    dataset = canonical(dataset, DATASET_ALIASES, "data set")
    if dataset not in DATASETS:
        raise ValueError(f"Unknown data set {dataset!r}; choose one of {sorted(DATASETS)}.")
    return family(DATASETS[dataset])


def svhn() -> MultiDigitConfig:
    """Deprecated name of `house_numbers()`."""
    warnings.warn("presets.svhn() is deprecated and will be removed in the next release; use "
                  "presets.house_numbers().", FutureWarning, stacklevel=2)
    return house_numbers()
