"""Models from a user's module file, as TFX Trainers take theirs (`module_file`): a Python
file that defines the DCN's three networks for the images of a preset's data set.

A module file defines, for `image_shape` (H, W, C) of the preset's images:

    def coarse_network(image_shape): ...  # [b, H, W, C] -> [b, s1, s2, D] coarse map
    def fine_network(image_shape): ...    # [n, P, P, C] patches -> [n, D] vectors
    def top_network(image_shape): ...     # [b, s1, s2, D] map -> [b, classes] logits

and may define

    BASELINES = {"cnn": cnn}  # kind -> function of image_shape: images -> [b, classes] logits
    REFERENCE = "cnn"         # the baseline the pipeline blesses the DCN against
    NUM_PATCHES = 8           # k
    HINT_WEIGHT = 0.1         # alpha; 0 trains the DCN without hints

`DynamicCapacityNetwork.from_networks` derives the patch geometry from them and names any
layer that does not fit. The data, recipes and reading are the preset's.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pathlib
import sys

import keras

from dcn_keras.classifier.family import NetworksFamily
from dcn_keras.classifier.model import DEFAULT_HINT_WEIGHT, DEFAULT_PATCHES

NETWORKS = ("coarse_network", "fine_network", "top_network")


def digest(path) -> str:
    """sha256 of the module file's bytes: what a pipeline caches its trainers on."""
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def load(path):
    """The module at `path`, checked for the three network functions; errors say what is
    missing and how to write it."""
    path = pathlib.Path(path)
    if not path.is_file() or path.suffix != ".py":
        raise FileNotFoundError(f"No module file at {path}: pass the path of a .py file that "
                                f"defines {', '.join(NETWORKS)} (docs/own_networks.md).")
    name = f"dcn_module_{digest(path)[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the networks' custom layers may need to find their module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise ValueError(f"Module file {path} failed to import ({type(error).__name__}: "
                         f"{error}).") from error
    return check(module, f"Module file {path}")


def check(module, where: str):
    """`module`, an imported module file, checked for the three network functions and its
    settings; errors start with `where` (how its user knows it) and say how to fix it."""
    missing = [name for name in NETWORKS if not callable(getattr(module, name, None))]
    if missing:
        raise ValueError(f"{where} does not define {', '.join(missing)}: it must "
                         "define coarse_network(image_shape), fine_network(image_shape) and "
                         "top_network(image_shape), each returning a Keras model "
                         "(docs/own_networks.md).")
    baselines = getattr(module, "BASELINES", {})
    if not isinstance(baselines, dict) or not all(
            isinstance(kind, str) and kind.isidentifier() and callable(build)
            for kind, build in baselines.items()):
        raise ValueError(f"{where}: BASELINES must map names (identifiers) to "
                         "functions of image_shape returning Keras models, got "
                         f"{baselines!r}.")
    clash = set(baselines) & set(ModuleFamily.dcn_kinds)
    if clash:
        raise ValueError(f"{where}: a baseline may not be called "
                         f"{', '.join(sorted(clash))}, the DCN's name; rename it.")
    reference = getattr(module, "REFERENCE", "")
    if reference and reference not in baselines:
        raise ValueError(f"{where}: REFERENCE {reference!r} is none of its "
                         f"BASELINES ({', '.join(baselines) or 'none'}).")
    return module


class ModuleFamily(NetworksFamily):
    """The DCN of a module file's networks and its baselines, on the data of `base` (the
    family of a preset whose images all have one size)."""

    def __init__(self, path, base, module=None):
        """`module`: the file at `path`, already imported and checked (`from_module`);
        None imports it (`load`)."""
        if not hasattr(base.config, "image_shape"):
            raise ValueError(f"Preset {base.name!r} has images of many sizes; a module "
                             "file's networks train on cluttered_mnist or megapixel_mnist.")
        self.path = pathlib.Path(path).resolve()
        self.module = load(self.path) if module is None else module
        self.base = base
        super().__init__(base.config)
        self.recipes, self.data = base.recipes, base.data
        baselines = getattr(self.module, "BASELINES", {})
        self.model_kinds = self.experiment_kinds = (*baselines, *self.dcn_kinds)
        self.titles = {**{kind: kind[0].upper() + kind[1:].replace("_", " ") for kind in baselines},
                       "dcn": "DCN"}
        self.reference_kind = getattr(self.module, "REFERENCE", "") or next(iter(baselines),
                                                                             "")
        self.num_patches = getattr(self.module, "NUM_PATCHES", DEFAULT_PATCHES)
        self.hint_weight = getattr(self.module, "HINT_WEIGHT", DEFAULT_HINT_WEIGHT)

    @classmethod
    def from_module(cls, module, base, where: str = "") -> ModuleFamily:
        """The family of a module file that is already imported (as TFX's Trainer imports
        one, from a wheel it builds, under a name of its own), checked as `load` checks a
        file; `where` names it in errors (default: its name and file)."""
        path = getattr(module, "__file__", None) or module.__name__
        check(module, where or f"Module {module.__name__} ({path})")
        return cls(path, base, module)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.config.image_shape)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def dcn_networks(self) -> tuple[keras.Model, keras.Model, keras.Model]:
        return tuple(getattr(self.module, name)(self.image_shape) for name in NETWORKS)

    def baseline(self, kind: str) -> keras.Model:
        return self.module.BASELINES[kind](self.image_shape)

    def datasets(self, train_files, valid_files, batch_size, seed=0, counts=(None, None),
                 kind=None):
        return self.base.datasets(train_files, valid_files, batch_size, seed, counts)

    def test_dataset(self, files, batch_size, count=None, kind=None):
        return self.base.test_dataset(files, batch_size, count)

    def fresh_training_data(self, data_dir, batch_size, seed=0):
        return self.base.fresh_training_data(data_dir, batch_size, seed)

    def build_data(self, out_dir, mnist_dir, sizes, seed, side=None) -> dict:
        return self.base.build_data(out_dir, mnist_dir, sizes, seed, side)

    def for_data(self, data_dir) -> ModuleFamily:
        base = self.base.for_data(data_dir)
        return self if base is self.base else type(self)(self.path, base, self.module)

    def with_config(self, config):
        return type(self)(self.path, self.base.with_config(config), self.module)
