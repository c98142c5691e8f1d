"""A model family: what training, export, the TFX components and the CLI need of a preset.

Each family (`cluttered_mnist.family`, `house_numbers.family`) is one small object; callers
ask it, never which family a preset belongs to. `presets.family(name)` looks one up.
"""

from __future__ import annotations

from dcn_keras import aliases
from dcn_keras.data import manifest
from dcn_keras.recipe import PROFILES, Recipe


class Family:
    """The interface; each family overrides what it does differently.

    Attributes:
      config: the preset's frozen architecture dataclass.
      recipes: {profile: Recipe}, the recorded `paper` recipe and `quick` / `smoke`.
      model_kinds: what `build` makes (`dcn train --model`).
      experiment_kinds: what an experiment trains, in order.
      first_seed_kinds: those of `experiment_kinds` an experiment trains for its first
        seed only (a baseline whose spread over seeds is not the question).
      dcn_kinds: the kinds that are DCNs (trained for `Recipe.dcn_epochs`).
      titles: {kind: the name of the model in tables}.
      monitor: (validation metric, "min" or "max") that picks the best epoch.
      data: the module that builds the family's benchmark data set (`build`, `describe`).
      dataset_names: the `dataset` names in the metadata.json of the data it reads.
    """

    preset = None  # the function that makes the preset's config
    recipes: dict[str, Recipe] = {}
    model_kinds: tuple[str, ...] = ()
    experiment_kinds: tuple[str, ...] = ()
    first_seed_kinds: tuple[str, ...] = ()
    dcn_kinds: tuple[str, ...] = ()
    titles: dict[str, str] = {}
    monitor: tuple[str, str] = ("val_loss", "min")
    data = None
    dataset_names: tuple[str, ...] = ()
    reads_networks = False  # whether it loads DCNs built from the user's own networks

    def __init__(self, config=None):
        self.config = config if config is not None else type(self).preset()

    @property
    def name(self) -> str:
        return self.config.name

    def recipe(self, profile: str = "paper", **overrides) -> Recipe:
        """The recipe of `profile`, with the settings in `overrides` that are not None."""
        if profile not in self.recipes:
            raise ValueError(f"Unknown profile {profile!r}; choose one of {PROFILES}.")
        return self.recipes[profile].replace(**overrides)

    def build_data(self, out_dir, mnist_dir, sizes: dict[str, int], seed: int,
                   side: int | None = None) -> dict:
        """The family's benchmark data set in `out_dir` (`data.build`); `side` sets the image
        side of a data set that has one. Returns its metadata."""
        if side is not None:
            raise ValueError(f"Preset {self.name!r} has no image side to set; --side is for "
                             "megapixel_mnist. Leave it off.")
        return self.data.build(out_dir, mnist_dir, sizes, seed=seed)

    def for_data(self, data_dir) -> Family:
        """This family for the images of a data directory or Examples artifact (its
        metadata.json): itself, unless the data set chose an image size. Data of another
        family's data set raise an error that names the preset that reads them."""
        found = manifest.dataset(data_dir)
        if found is not None and self.dataset_names and found not in self.dataset_names:
            preset = aliases.current("data set", found) or aliases.current("preset", found) \
                or found
            raise ValueError(
                f"{data_dir} holds {found} data (its metadata.json), which preset "
                f"{self.name!r} does not read. Pass --preset {preset} (in Python, "
                f"presets.family({preset!r})), or build {self.name} data with "
                f"`dcn data --dataset {self.name} --out DIR`.")
        return self

    def train_options(self, kind: str, recipe: Recipe) -> dict:
        """`training.train` keyword arguments of `kind` under `recipe`."""
        dcn = kind in self.dcn_kinds
        options = {"epochs": (recipe.dcn_epochs or recipe.epochs) if dcn else recipe.epochs,
                   "learning_rate": recipe.learning_rate, "precision": recipe.precision,
                   "batch_norm_images": recipe.batch_norm_images,
                   "num_patches": recipe.num_patches, "hint_weight": recipe.hint_weight}
        return options

    def check_kind(self, kind: str) -> None:
        if kind not in self.model_kinds:
            raise ValueError(f"Preset {self.name!r} trains {', '.join(self.model_kinds)}, "
                             f"not {kind!r}.")

    def check(self, model, path) -> None:
        """Raise a clear error unless `model` (loaded from `path`) belongs to this preset."""
        config = getattr(model, "config", None)
        if config is None and hasattr(model, "geometry") and not self.reads_networks:
            raise ValueError(
                f"{path} holds a DCN built from your own networks "
                f"(`DynamicCapacityNetwork.from_networks`), not a model of preset "
                f"{self.name!r}. Pass the module file that defines them: --module-file FILE "
                f"(in Python, presets.family({self.name!r}, module_file=FILE); "
                "docs/own_networks.md).")
        if config is None:
            self.check_plain(model, path)
        elif config.name != self.name:
            raise ValueError(f"{path} holds a model for preset {config.name!r}, not "
                             f"{self.name!r}. Pass --preset {config.name} (in Python, "
                             f"presets.family({config.name!r})) or a model trained for "
                             f"{self.name}.")

    def check_plain(self, model, path) -> None:
        """`check` of a plain Keras model, without a DCN config."""
        raise ValueError(f"{path} holds a {type(model).__name__}, not a model of preset "
                         f"{self.name!r}. Retrain it with `dcn train --preset {self.name}`.")

    # Each family implements these.
    def build(self, kind: str, num_patches: int | None = None,
              hint_weight: float | None = None, start=None):
        """A model of `kind`; `num_patches` and `hint_weight` set DCN kinds only. Fresh
        weights, or those of `start`: a composed DCN that a DCN kind fine-tunes end to end,
        or where the DCN is only composed, a trained model of `kind` to train further."""
        raise NotImplementedError

    def compile(self, model, learning_rate: float, total_steps: int) -> None:
        raise NotImplementedError

    def datasets(self, train_files, valid_files, batch_size: int, seed: int = 0,
                 counts: tuple[int | None, int | None] = (None, None), kind: str | None = None):
        """(shuffled training, validation) batched `tf.data` pipelines of TFRecord files (a
        path, glob or list each) for training a `kind` model; `counts` are the record
        counts when already known."""
        raise NotImplementedError

    def fresh_training_data(self, data_dir, batch_size: int, seed: int = 0):
        """Batched training `(images, labels)` made anew every epoch from the training pool
        of a data directory, as many per epoch as its training split holds
        (`Recipe.fresh_canvases`)."""
        raise ValueError(f"Preset {self.name!r} trains on its fixed training split; fresh "
                         "canvases are drawn for cluttered_mnist only. Leave "
                         "--fresh-canvases off.")

    def summaries(self, model, valid, log_dir) -> list:
        """Keras callbacks that write pictures of `model` in training to TensorBoard's
        `log_dir` after every epoch (none by default)."""
        return []

    def warm_start(self, coarse, fine, num_patches: int | None = None):
        """The paper's DCN holding the layers of a coarse and a fine model trained apart, a
        start for end-to-end training (`dcn train --warm-start`, the pipeline's DCN
        trainer)."""
        raise ValueError(f"Preset {self.name!r} composes its DCN at test time and does not "
                         "train one end to end; leave --warm-start off.")

    def compose(self, coarse, fine, num_patches: int | None = None, scales=None, train=None):
        """A DCN from a coarse and a fine model trained apart; neither is retrained. `train`
        holds training `(images, labels)` batches for families whose composition fits
        something between them (a map, not the coarse or fine layers)."""
        raise NotImplementedError

    def composition_report(self, dcn, coarse, fine, train, valid, out_dir) -> dict | None:
        """What `compose` did, measured: written to `out_dir` (JSON, Markdown, plot) and
        returned; None where composition fits nothing (the family's report covers it)."""
        return None

    def serving_endpoints(self, model) -> dict | None:
        """TF Serving signature functions of `model`, or None to export it plain."""
        raise NotImplementedError

    def multiplications(self, num_patches: int | None = None, height: int | None = None,
                        width: int | None = None) -> dict:
        """Multiplications per input of the family's models."""
        raise NotImplementedError

    def report(self, data_dir, models_dir, out_dir, recipe: Recipe) -> dict:
        """Score the trained models of `models_dir` on the test split of `data_dir` and
        write the report to `out_dir`: {"result": JSON dict, "markdown": table}."""
        raise NotImplementedError

    def with_config(self, config) -> Family:
        """The same family for another configuration (such as a resized input)."""
        return type(self)(config)
