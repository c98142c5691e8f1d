"""The Megapixel MNIST family: the DCN built from networks against the low- and
full-resolution CNNs (`classifier.family.NetworksFamily`)."""

from __future__ import annotations

import json
import pathlib

import keras
import tensorflow as tf

from dcn_keras.classifier.family import NetworksFamily
from dcn_keras.data import megapixel_mnist
from dcn_keras.megapixel_mnist import config as config_lib
from dcn_keras.megapixel_mnist import networks

TITLES = {"low_resolution": "Low-resolution CNN", "full_resolution": "Full-resolution CNN",
          "dcn": "DCN"}


class MegapixelFamily(NetworksFamily):
    """1500 x 1500 Megapixel MNIST: the DCN (k = 10 patches of 60 x 60), the CNN on the
    180 x 180 view and the fine layers over the whole image."""

    preset = staticmethod(config_lib.megapixel_mnist)
    recipes = config_lib.RECIPES
    model_kinds = networks.MODEL_KINDS
    experiment_kinds = ("dcn", "low_resolution")
    first_seed_kinds = ("low_resolution",)
    titles = TITLES
    reference_kind = "full_resolution"
    data = megapixel_mnist
    dataset_names = ("megapixel_mnist",)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.config.image_shape

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def num_patches(self) -> int:
        return self.config.num_patches

    @property
    def hint_weight(self) -> float:
        return self.config.hint_weight

    def build_data(self, out_dir, mnist_dir, sizes, seed, side=None) -> dict:
        return self.data.build(out_dir, mnist_dir, sizes, seed=seed,
                               side=side or self.config.side)

    def for_data(self, data_dir) -> MegapixelFamily:
        """The same models for the canvas side the data were built with (itself where there
        is no metadata.json: the readers then say what is missing)."""
        super().for_data(data_dir)
        path = pathlib.Path(data_dir) / "metadata.json"
        if not path.is_file():
            return self
        side = int(json.loads(path.read_text())["side"])
        return self if side == self.config.side else self.with_config(self.config.resized(side))

    def dcn_networks(self) -> tuple[keras.Model, keras.Model, keras.Model]:
        return (networks.coarse_network(self.config), networks.fine_network(self.config),
                networks.top_network(self.config))

    def baseline(self, kind: str) -> keras.Model:
        return networks.build(self.config, kind)

    def inputs(self, kind: str, images: tf.Tensor) -> tf.Tensor:
        if kind != "low_resolution":
            return images
        side = self.config.view_side
        return tf.image.resize(images, (side, side), antialias=True)

    def _read(self, paths, batch_size: int, kind: str | None, **options) -> tf.data.Dataset:
        if kind == "low_resolution":
            return megapixel_mnist.view_dataset(paths, self.config.side, batch_size,
                                                self.config.view_scale, **options)
        return megapixel_mnist.dataset(paths, self.config.side, batch_size, **options)

    def datasets(self, train_files, valid_files, batch_size, seed=0, counts=(None, None),
                 kind=None):
        # The dense canvases of a split are 9 MB each: only the sparse records are cached.
        return (self._read(train_files, batch_size, kind, shuffle=True, seed=seed,
                           count=counts[0]),
                self._read(valid_files, batch_size, kind, count=counts[1]))

    def test_dataset(self, files, batch_size, count=None, kind=None) -> tf.data.Dataset:
        return self._read(files, batch_size, kind, count=count)
