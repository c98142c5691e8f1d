"""The experiment bodies behind `dcn data`, `dcn train`, `dcn experiment` and
`dcn house-numbers`: one path for every family, driven by its recipe."""

from __future__ import annotations

import pathlib

from dcn_keras.recipe import Recipe


def build_data(family, out_dir, recipe: Recipe, mnist_dir=None) -> dict:
    """The family's benchmark data set (train / valid / test TFRecords and metadata.json)
    in `out_dir`, sized by `recipe`; returns the metadata."""
    return family.data.build(out_dir, mnist_dir, {"train": recipe.train_images,
                                                  "valid": recipe.valid_images,
                                                  "test": recipe.test_images},
                             seed=recipe.seed)


def train_model(family, kind: str, data_dir, out_path, recipe: Recipe,
                verbose: int | str = "auto"):
    """Train one `kind` model on a data directory made by `build_data`, as `recipe` says;
    saves the best validation epoch to `out_path` (.keras) and its history beside it."""
    import keras

    from dcn_keras import training

    data_dir = pathlib.Path(data_dir)
    family.check_kind(kind)
    keras.utils.set_random_seed(recipe.seed)
    train, valid = family.datasets(data_dir / "train.tfrecord", data_dir / "valid.tfrecord",
                                   recipe.batch_size, recipe.seed)
    return training.train(family, kind, train, valid, out_path=out_path, verbose=verbose,
                          **family.train_options(kind, recipe))


def run(family, recipe: Recipe, out, mnist_dir=None, verbose: int | str = "auto") -> dict:
    """A whole experiment in `out`: data/ (unless already there), models/ (each model not
    already trained) and report/. Returns the report ({"result", "markdown"})."""
    out = pathlib.Path(out)
    data_dir, models_dir = out / "data", out / "models"
    if not (data_dir / "metadata.json").exists():
        print(family.data.describe(build_data(family, data_dir, recipe, mnist_dir)),
              flush=True)
    for kind in family.experiment_kinds:
        path = models_dir / f"{kind}.keras"
        if path.exists():
            print(f"{path} exists: skipping (delete it to retrain)")
            continue
        print(f"== training {family.titles[kind]} ==", flush=True)
        train_model(family, kind, data_dir, path, recipe, verbose)
    return family.report(data_dir, models_dir, out / "report", recipe)
