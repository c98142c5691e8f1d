"""The experiment bodies behind `dcn data`, `dcn train`, `dcn experiment` and
`dcn house-numbers`: one path for every family, driven by its recipe."""

from __future__ import annotations

import pathlib

import keras

from dcn_keras import progress, seeds, training, visualize
from dcn_keras.atomic import atomic_path
from dcn_keras.recipe import Recipe


def build_data(family, out_dir, recipe: Recipe, mnist_dir=None,
               side: int | None = None) -> dict:
    """The family's benchmark data set (train / valid / test TFRecords and metadata.json)
    in `out_dir`, sized by `recipe` (`side`: the image side, where the data set has one);
    returns the metadata."""
    return family.build_data(out_dir, mnist_dir, {"train": recipe.train_images,
                                                  "valid": recipe.valid_images,
                                                  "test": recipe.test_images},
                             recipe.seed, side)


def check_epochs(family, kind: str, path: pathlib.Path, recipe: Recipe) -> None:
    """Refuse a finished model that its history says was trained for another number of
    epochs than `recipe` gives `kind`: one table would mix two budgets."""
    history = path.with_name(f"{path.stem}_history.csv")
    if not history.exists():
        return
    trained = len(visualize.read_history(history).get("epoch", []))
    wanted = family.train_options(kind, recipe)["epochs"]
    if trained != wanted:
        raise ValueError(f"{path} was trained for {trained} epochs (its history), but the "
                         f"recipe trains {kind} models for {wanted}: one table would mix two "
                         f"budgets. Move it and its {path.stem}_* files away to retrain it, "
                         f"or pass --epochs {trained}.")


def train_model(family, kind: str, data_dir, out_path, recipe: Recipe,
                verbose: int | str = "auto", start=None):
    """Train one `kind` model on a data directory made by `build_data`, as `recipe` says,
    from fresh weights or from `start` (a composed DCN, for DCN kinds: end-to-end
    fine-tuning; for the house-numbers family, a trained model of `kind`); saves the best
    validation epoch to `out_path` (.keras), its history and its TensorBoard logs
    (`<stem>_logs/`) and every epoch's weights (`<stem>_epochs/`) beside it."""
    data_dir, out_path = pathlib.Path(data_dir), training.check_model_path(out_path)
    family = family.for_data(data_dir)
    family.check_kind(kind)
    keras.utils.set_random_seed(recipe.seed)
    train, valid = family.datasets(data_dir / "train.tfrecord", data_dir / "valid.tfrecord",
                                   recipe.batch_size, recipe.seed, kind=kind)
    if recipe.fresh_canvases:
        train = family.fresh_training_data(data_dir, recipe.batch_size, recipe.seed)
    return training.train(family, kind, train, valid, out_path=out_path,
                          verbose=progress.keras_verbosity(verbose),
                          start=start, log_dir=out_path.with_name(f"{out_path.stem}_logs"),
                          epochs_dir=out_path.with_name(f"{out_path.stem}_epochs"),
                          **family.train_options(kind, recipe))


def best_epoch(family, history_csv) -> str:
    """Which epoch a training kept, from its history: "epoch N of M, val_... V"."""
    history = visualize.read_history(history_csv)
    monitor, mode = family.monitor
    scores = history[monitor]
    best = (min if mode == "min" else max)(range(len(scores)), key=scores.__getitem__)
    return f"epoch {best + 1} of {len(scores)}, the best {monitor} ({scores[best]:.4f})"


def compose_models(family, data_dir, coarse_path, fine_path, out_path, recipe: Recipe) -> dict:
    """Compose the DCN of two models trained apart (`family.compose`, k of `recipe`), save it
    to `out_path` and write what composition did to `<stem>_composition/` beside it.
    Returns that report (None where the family fits nothing)."""
    data_dir, out_path = pathlib.Path(data_dir), training.check_model_path(out_path)
    coarse = training.load_model(coarse_path, family)
    fine = training.load_model(fine_path, family)
    train, valid = family.datasets(data_dir / "train.tfrecord", data_dir / "valid.tfrecord",
                                   100, recipe.seed)
    dcn = family.compose(coarse, fine, recipe.num_patches, recipe.scales, train)
    with atomic_path(out_path) as path:
        dcn.save(path)
    return family.composition_report(dcn, coarse, fine, train, valid,
                                     out_path.with_name(f"{out_path.stem}_composition"))


def run(family, recipe: Recipe, out, mnist_dir=None, verbose: int | str = "auto",
        side: int | None = None) -> dict:
    """A whole experiment in `out`: data/ (unless already there; `side` as in
    `build_data`), models/ (each model of each seed of `recipe.seeds` not already trained,
    `seeds.model_path`; `family.first_seed_kinds` for the first seed only) and report/.
    Returns the report ({"result", "markdown"})."""
    out = pathlib.Path(out)
    data_dir, models_dir = out / "data", out / "models"
    if not (data_dir / "metadata.json").exists():
        print(family.data.describe(build_data(family, data_dir, recipe, mnist_dir, side)),
              flush=True)
    family = family.for_data(data_dir)
    for seed in recipe.seeds:
        for kind in family.experiment_kinds:
            if kind in family.first_seed_kinds and seed != recipe.seeds[0]:
                continue
            path = seeds.model_path(models_dir, kind, seed, recipe.seeds)
            if path.exists():
                check_epochs(family, kind, path, recipe)
                print(f"{path} exists: skipping (delete it to retrain)")
                continue
            print(f"== training {family.titles[kind]}, seed {seed} ==", flush=True)
            train_model(family, kind, data_dir, path, recipe.replace(seed=seed), verbose)
    return family.report(data_dir, models_dir, out / "report", recipe)
