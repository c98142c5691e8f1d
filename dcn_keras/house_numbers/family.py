"""The house-numbers family: coarse and fine models trained apart on crops, a DCN composed
from them at test time, Table 2."""

from __future__ import annotations

import pathlib

import keras

from dcn_keras import measure, training
from dcn_keras.atomic import atomic_path
from dcn_keras.data import house_numbers, manifest, tfrecords
from dcn_keras.family import Family
from dcn_keras.house_numbers import config as config_lib
from dcn_keras.house_numbers import inputs, multiplications, report, serving
from dcn_keras.house_numbers.dcn import MultiDigitDCN
from dcn_keras.house_numbers.model import MultiDigitModel


class MultiDigitFamily(Family):
    """The transfer setting (paper sec. 4.2) on SVHN or MNIST house numbers."""

    preset = staticmethod(config_lib.house_numbers)
    recipes = config_lib.RECIPES
    model_kinds = ("coarse", "fine")
    experiment_kinds = ("coarse", "fine")
    titles = {"coarse": "Coarse model", "fine": "Fine model",
              "composed": "DCN composed at test time"}
    monitor = ("val_sequence_error", "min")

    data = house_numbers
    dataset_names = ("mnist_house_numbers", "svhn")

    def build(self, kind, num_patches=None, hint_weight=None, start=None) -> MultiDigitModel:
        """A fresh `kind` model, or one that goes on from the weights of `start`, a trained
        model of that kind (to train it further)."""
        if kind not in self.model_kinds:
            raise ValueError(f"The {self.name} preset trains coarse and fine models apart (the "
                             f"DCN is composed from them at test time), not {kind!r}.")
        model = MultiDigitModel(self.config, kind)
        if start is None:
            return model
        if getattr(start, "part", None) != kind:
            raise ValueError(f"A {kind} model starts from a trained {kind} model; got "
                             f"{type(start).__name__} {start.name!r}. The {self.name} "
                             "preset's DCN is composed at test time and never trained.")
        try:
            model.set_weights(start.get_weights())
        except ValueError as error:
            raise ValueError(f"{start.name!r} has other layers than this {self.name} config "
                             f"builds ({error}); start from a model of this config.") from error
        return model

    def compile(self, model, learning_rate, total_steps) -> None:
        """Adam with the exponential decay (to a tenth) of the paper's appendix 6.2, whose
        SGD with momentum learned far slower here (docs/house_numbers.md)."""
        schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate,
                                                               max(1, total_steps), 0.1)
        model.compile(optimizer=keras.optimizers.Adam(schedule))

    def datasets(self, train_files, valid_files, batch_size, seed=0, counts=(None, None),
                 kind=None):
        """Training and validation crops (`inputs.crops`)."""
        return (inputs.crops(train_files, self.config, batch_size, True, seed),
                inputs.crops(valid_files, self.config, batch_size, False))

    def compose(self, coarse, fine, num_patches=None, scales=None, train=None) -> MultiDigitDCN:
        # Coarse and fine layers end in one space by design (paper 4.2): nothing to fit.
        # Nothing is trained after composition either, so batch norms fold away. Attention
        # and combination are the family's, whatever older model files recorded.
        return MultiDigitDCN(coarse.folded(), fine.folded(), num_patches, scales,
                             attention=self.config.attention,
                             combination=self.config.combination)

    def serving_endpoints(self, model):
        return serving.endpoints(model)

    def multiplications(self, num_patches=None, height=None, width=None) -> dict:
        height, width = (height, width) if height and width else self.config.train_size
        return multiplications.count(self.config, num_patches, height, width)

    def report(self, data_dir, models_dir, out_dir, recipe) -> dict:
        """Compose the DCN of `models_dir`'s coarse.keras and fine.keras (k and scales of
        `recipe`), save it there as dcn.keras, and write Table 2 (`report.compare`) on the
        test split to `out_dir`, and on the harder test_large split, where the data has it,
        to `out_dir`/test_large. Returns the test split's report, with the Markdown of
        both."""
        data_dir, models_dir = pathlib.Path(data_dir), pathlib.Path(models_dir)
        metadata = manifest.load(data_dir)
        parts = {kind: training.load_model(models_dir / f"{kind}.keras", self)
                 for kind in self.model_kinds}
        dcn = self.compose(parts["coarse"], parts["fine"], recipe.num_patches, recipe.scales)
        with atomic_path(models_dir / "dcn.keras") as path:
            dcn.save(path)
        out_dir = pathlib.Path(out_dir)
        splits = {"test": (out_dir, recipe.all_patches_images)}
        if metadata["splits"].get("test_large", {}).get("images"):
            splits["test_large"] = (out_dir / "test_large", 0)
        reports = {}
        for split, (split_dir, all_patches_images) in splits.items():
            print(f"== Table 2 on {split} ==", flush=True)
            examples = tfrecords.full_images(data_dir / f"{split}.tfrecord")
            reports[split] = report.compare(
                dcn, examples, f"{split} split of {self.data.describe(metadata)}",
                measure.machine_description(), split_dir, recipe.largest, recipe.scales,
                all_patches_images)
        return {"result": reports["test"]["result"],
                "markdown": "\n".join(f"## {split}\n\n{out['markdown']}"
                                      for split, out in reports.items())}
