"""The paper's presets, defined once in their families, and the registry that finds them.

Earlier names (`svhn` for `house_numbers`, `mnist_house_numbers` for the data set) still
work for one release and say what to use instead.
"""

from __future__ import annotations

import os
import warnings

from dcn_keras import aliases
from dcn_keras.classifier.config import DCNConfig
from dcn_keras.cluttered_mnist.config import cluttered_mnist
from dcn_keras.cluttered_mnist.family import ClutteredMnistFamily
from dcn_keras.family import Family
from dcn_keras.from_networks import module_file as module_file_lib
from dcn_keras.house_numbers.config import MultiDigitConfig, house_numbers
from dcn_keras.house_numbers.family import MultiDigitFamily
from dcn_keras.megapixel_mnist.config import MegapixelConfig, megapixel_mnist
from dcn_keras.megapixel_mnist.family import MegapixelFamily

PRESETS = {"cluttered_mnist": cluttered_mnist, "house_numbers": house_numbers,
           "megapixel_mnist": megapixel_mnist}
# Each family's data set (`dcn data --dataset`) has its preset's name.
FAMILIES = {"cluttered_mnist": ClutteredMnistFamily, "house_numbers": MultiDigitFamily,
            "megapixel_mnist": MegapixelFamily}


def canonical(name: str, kind: str = "preset") -> str:
    """`name`, or the current name of an earlier `kind` name (`dcn_keras.aliases`), with a
    FutureWarning saying so."""
    new = aliases.current(kind, name)
    if new:
        text = aliases.message(kind, name)
        warnings.warn(text[0].upper() + text[1:], FutureWarning, stacklevel=3)
        return new
    return name


def get(name: str) -> DCNConfig | MultiDigitConfig | MegapixelConfig:
    """The config of preset `name`, with an error that lists the known ones."""
    return family(name).config


def family(name: str, module_file: str | os.PathLike = "") -> Family:
    """The family object of preset `name` (`dcn_keras.family.Family`); with a
    `module_file`, the DCN of that file's networks on the preset's data
    (`from_networks.module_file`)."""
    name = canonical(name)
    if name not in FAMILIES:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(FAMILIES)}.")
    found = FAMILIES[name]()
    return module_file_lib.ModuleFamily(module_file, found) if module_file else found


def family_of_dataset(dataset: str) -> Family:
    """The family whose data set `dcn data --dataset` calls `dataset`."""
    dataset = canonical(dataset, "data set")
    if dataset not in FAMILIES:
        raise ValueError(f"Unknown data set {dataset!r}; choose one of {sorted(FAMILIES)}.")
    return family(dataset)


def svhn() -> MultiDigitConfig:
    """Deprecated name of `house_numbers()`."""
    warnings.warn("presets.svhn() is deprecated and will be removed in the next release; use "
                  "presets.house_numbers().", FutureWarning, stacklevel=2)
    return house_numbers()
