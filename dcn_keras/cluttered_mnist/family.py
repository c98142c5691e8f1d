"""The Cluttered MNIST family: four models trained end to end, Table 1."""

from __future__ import annotations

import pathlib

import keras

from dcn_keras import seeds, training
from dcn_keras.classifier import serving, validation
from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.cluttered_mnist import baselines, compose, multiplications, report, summaries
from dcn_keras.cluttered_mnist import config as config_lib
from dcn_keras.data import cluttered_mnist, manifest, tfrecords
from dcn_keras.family import Family


class ClutteredMnistFamily(Family):
    """Coarse, fine, DCN without and with hints on 100x100 Cluttered MNIST."""

    preset = staticmethod(config_lib.cluttered_mnist)
    recipes = config_lib.RECIPES
    model_kinds = config_lib.MODEL_KINDS
    experiment_kinds = config_lib.MODEL_KINDS
    dcn_kinds = ("dcn_no_hints", "dcn")
    titles = config_lib.TITLES
    monitor = ("val_accuracy", "max")

    data = cluttered_mnist
    dataset_names = ("cluttered_mnist",)

    def build(self, kind, num_patches=None, hint_weight=None, start=None) -> keras.Model:
        self.check_kind(kind)
        if start is not None and kind not in self.dcn_kinds:
            raise ValueError(f"Only DCN kinds ({', '.join(self.dcn_kinds)}) start from a "
                             f"composed DCN, not {kind!r}.")
        if kind == "coarse":
            return baselines.coarse_model(self.config)
        if kind == "fine":
            return baselines.fine_model(self.config)
        if kind == "dcn_no_hints":
            hint_weight = 0.0
        if start is not None and not isinstance(start, DynamicCapacityNetwork):
            raise ValueError(f"A {kind} starts from a composed DCN (`dcn compose`), got "
                             f"the {type(start).__name__} {start.name!r}.")
        # A composed start reads the fine model's view of each position (`fine_view`);
        # trained end to end, the DCN reads the paper's patches, at 1.2M multiplications
        # each instead of 2.7M, and its first steps adapt the fine layers to them.
        dcn = DynamicCapacityNetwork(self.config, num_patches, hint_weight, name=kind,
                                     bridge=getattr(start, "bridge", 0))
        if start is not None:
            dcn.set_weights(start.get_weights())
        return dcn

    def compile(self, model, learning_rate, total_steps) -> None:
        """Adam with a cosine learning-rate decay over the whole run."""
        optimizer = keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(learning_rate, max(1, total_steps)))
        if isinstance(model, DynamicCapacityNetwork):
            model.compile(optimizer=optimizer)  # its train_step holds the DCN objective
        else:
            model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                          metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])

    def datasets(self, train_files, valid_files, batch_size, seed=0, counts=(None, None),
                 kind=None):
        shape = self.config.image_shape
        return (tfrecords.dataset(train_files, shape, batch_size, shuffle=True, seed=seed,
                                  count=counts[0]),
                tfrecords.dataset(valid_files, shape, batch_size, count=counts[1]))

    def fresh_training_data(self, data_dir, batch_size, seed=0):
        return cluttered_mnist.fresh_canvases(data_dir, batch_size, seed)

    def test_dataset(self, files, batch_size: int, count: int | None = None,
                     digit_boxes: bool = False):
        """Batched `(images, labels)` of the test TFRecords (with `digit_boxes`, `(images,
        labels, digit boxes)`)."""
        return tfrecords.dataset(files, self.config.image_shape, batch_size, count=count,
                                 digit_boxes=digit_boxes)

    def check_plain(self, model, path) -> None:
        config = self.config
        if tuple(model.input_shape[1:]) != config.image_shape or \
                model.output_shape[-1] != config.num_classes:
            raise ValueError(
                f"{path} takes {list(model.input_shape[1:])} inputs and gives "
                f"{model.output_shape[-1]} classes, but preset {config.name!r} needs "
                f"{list(config.image_shape)} and {config.num_classes}. It was trained for "
                "another preset: pass the matching --preset or retrain it.")

    def compose(self, coarse, fine, num_patches=None, scales=None,
                train=None) -> DynamicCapacityNetwork:
        if scales and tuple(scales) != (1.0,):
            raise ValueError(f"Preset {self.name!r} is single-scale; leave scales empty.")
        if train is None:
            raise ValueError("Composing a Cluttered MNIST DCN fits its bridge on training "
                             "images: pass train, a dataset of (images, labels) batches.")
        # docs/cluttered_mnist.md: why a bridge, and why distilled.
        return compose.compose_distilled(coarse, fine, self.config, train, num_patches)

    def summaries(self, model, valid, log_dir) -> list:
        """For a DCN: its selected patches, saliency maps and validation error versus k
        (`summaries.AttentionSummaries`)."""
        if not isinstance(model, DynamicCapacityNetwork):
            return []
        return [summaries.AttentionSummaries(valid, log_dir)]

    def warm_start(self, coarse, fine, num_patches=None) -> DynamicCapacityNetwork:
        """Coarse layers of `coarse`, fine and top layers of `fine`, the paper's patches and
        no bridge: the composition without its extensions (`compose.compose`)."""
        return compose.compose(coarse, fine, self.config, None, num_patches, fine_view="patch")

    def composition_report(self, dcn, coarse, fine, train, valid, out_dir) -> dict:
        """Bridge fit (R^2 on training and validation images) and validation error versus
        k of the composed DCN beside the coarse and fine models' (`compose.report`)."""
        return compose.report(dcn, coarse, fine, train, valid, out_dir)

    def serving_endpoints(self, model):
        return serving.endpoints(model) if isinstance(model, DynamicCapacityNetwork) else None

    def multiplications(self, num_patches=None, height=None, width=None) -> dict:
        config = self.config.resized(height, width) if height and width else self.config
        validation.check_num_patches(num_patches or config.num_patches, config.geometry(),
                                     config.name)
        counted = multiplications.count(config, num_patches)
        counted["paper_comparison"] = multiplications.compare_with_paper(counted)
        return counted

    def _load_kind(self, kind: str, path) -> keras.Model:
        """The model at `path`, which its file name says is a `kind` model."""
        model = training.load_model(path, self)
        if (kind in config_lib.DCN_KINDS) != isinstance(model, DynamicCapacityNetwork):
            held = "a DCN" if isinstance(model, DynamicCapacityNetwork) else \
                f"a {type(model).__name__} {model.name!r}, not a DCN"
            raise ValueError(f"{path} holds {held}, but its name says it is the "
                             f"{self.titles[kind].lower()}. Save each model under its kind's "
                             "name (coarse, fine, dcn_no_hints, dcn, composed).")
        return model

    def report(self, data_dir, models_dir, out_dir, recipe) -> dict:
        """Table 1 of the models in `models_dir`, every seed of `recipe.seeds` found
        (`seeds.find_models`; see `report.compare_seeds`)."""
        data_dir, models_dir = pathlib.Path(data_dir), pathlib.Path(models_dir)
        metadata = manifest.load(data_dir)
        test = self.test_dataset(data_dir / "test.tfrecord", recipe.batch_size)
        found = seeds.find_models(models_dir, tuple(self.titles), recipe.seeds)
        runs = {seed: {kind: self._load_kind(kind, path) for kind, path in paths.items()}
                for seed, paths in found.items()}
        histories = {seed: {kind: history for kind, path in paths.items()
                            if (history := path.with_name(f"{path.stem}_history.csv")).exists()}
                     for seed, paths in found.items()}
        boxed = self.test_dataset(data_dir / "test.tfrecord", recipe.batch_size,
                                  digit_boxes=True)
        return report.compare_seeds(runs, test, self.data.describe(metadata), out_dir,
                                    self.config, recipe.batch_size, histories, boxed,
                                    tfrecords.digit_indices(data_dir / "test.tfrecord"))
