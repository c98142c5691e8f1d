"""A family of models built from Keras networks: the DCN of
`DynamicCapacityNetwork.from_networks` and baselines that are plain classifiers, all trained
end to end and compared by test error and time per image.

The Megapixel MNIST preset (`megapixel_mnist.family`) and a user's module file
(`from_networks.module_file`) are its two instances; each says which networks it builds and
how its data are read.
"""

from __future__ import annotations

import pathlib

import keras
import tensorflow as tf

from dcn_keras import seeds, training
from dcn_keras.classifier import report, serving
from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.data import manifest
from dcn_keras.family import Family


class NetworksFamily(Family):
    """The interface of `Family` for models built from networks.

    An instance provides `dcn_networks` (the coarse, fine and top networks), `baseline`
    (each other kind of `model_kinds`, a network from images to logits), `image_shape`,
    `num_classes`, `num_patches`, `hint_weight`, `datasets` and `test_dataset`.
    """

    dcn_kinds = ("dcn",)
    monitor = ("val_accuracy", "max")
    reads_networks = True
    # The baseline the DCN is held against (the pipeline's blessing, the report's gap).
    reference_kind = ""
    num_patches = 8
    hint_weight = 0.1

    def dcn_networks(self) -> tuple[keras.Model, keras.Model, keras.Model]:
        """Fresh (coarse, fine, top) networks of the DCN."""
        raise NotImplementedError

    def baseline(self, kind: str) -> keras.Model:
        """A fresh `kind` baseline: `[b, H, W, C]` images (or the view that `datasets` gives
        that kind) -> `[b, classes]` logits."""
        raise NotImplementedError

    def inputs(self, kind: str, images: tf.Tensor) -> tf.Tensor:
        """What a `kind` model reads of `[b, H, W, C]` images (the images themselves unless
        a baseline reads a view)."""
        return images

    def test_dataset(self, files, batch_size: int, count: int | None = None,
                     kind: str | None = None) -> tf.data.Dataset:
        """Batched `(inputs of kind, labels)` of test TFRecords (full images for None)."""
        raise NotImplementedError

    def build(self, kind, num_patches=None, hint_weight=None, start=None) -> keras.Model:
        self.check_kind(kind)
        if kind in self.dcn_kinds:
            model = DynamicCapacityNetwork.from_networks(
                *self.dcn_networks(), num_patches=num_patches or self.num_patches,
                hint_weight=self.hint_weight if hint_weight is None else hint_weight,
                name=kind)
        else:
            model = self.baseline(kind)
        if start is not None:
            model.set_weights(start.get_weights())
        return model

    def compile(self, model, learning_rate, total_steps) -> None:
        """Adam with a cosine learning-rate decay over the whole run; the baselines' loss is
        the cross entropy of their logits."""
        optimizer = keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(learning_rate, max(1, total_steps)))
        if isinstance(model, DynamicCapacityNetwork):
            model.compile(optimizer=optimizer)  # its train_step holds the DCN objective
        else:
            model.compile(optimizer=optimizer,
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])

    def check_plain(self, model, path) -> None:
        """A model of this family gives one score per class (a DCN built from networks has no
        preset config either, so it is checked here too); its image size is the data's."""
        classes = model.num_classes if isinstance(model, DynamicCapacityNetwork) else \
            model.output_shape[-1]
        if classes != self.num_classes:
            raise ValueError(f"{path} holds {type(model).__name__} {model.name!r} with "
                             f"{classes} outputs, but preset {self.name!r} "
                             f"has {self.num_classes} classes. Pass the matching --preset or "
                             "retrain it.")

    def serving_endpoints(self, model):
        """The DCN's signatures (`classifier.serving`: probabilities, classes, positions,
        boxes, saliency); a baseline is exported plain."""
        return serving.endpoints(model) if isinstance(model, DynamicCapacityNetwork) else None

    def multiplications(self, num_patches=None, height=None, width=None) -> dict:
        raise ValueError(f"Preset {self.name!r} counts no multiplications; its models are "
                         "timed instead (`dcn evaluate`, benchmarks/megapixel_speed.py).")

    def report(self, data_dir, models_dir, out_dir, recipe) -> dict:
        """Test error of every model and seed found in `models_dir` (`seeds.find_models`),
        and the first seed's models timed side by side at batch 1 (`report.compare`)."""
        data_dir = pathlib.Path(data_dir)
        found = seeds.find_models(models_dir, self.model_kinds, recipe.seeds)
        runs = {seed: {kind: training.load_model(path, self) for kind, path in paths.items()}
                for seed, paths in found.items()}
        return report.compare(self, runs, data_dir / "test.tfrecord",
                              self.data.describe(manifest.load(data_dir)), out_dir,
                              recipe.batch_size)
