"""Does training the fine model with real surroundings mend Table 2's fine row? Trains a
run's fine model further with every other batch of windows in 16 rows and 32 columns of
their real surroundings (`MultiDigitConfig.fine_context`, scored on the window's own
positions), the other batches the zero-padded windows that the DCN's patches are. The
result goes to a run folder OUT beside the run's data and coarse model (linked), where
benchmarks/house_numbers_table2.py reads Table 2, side by side with the run's own:

    .venv/bin/python benchmarks/house_numbers_fine_context_training.py runs/house_cr \\
        --out runs/house_ctx --epochs 1
    .venv/bin/python benchmarks/house_numbers_table2.py runs/house_ctx --all-patches 0

`--context 0 0` trains the control: the same epochs on zero-padded windows only. A
killed run resumes from its last finished epoch when rerun; a trained model is kept.
`--parts N` cuts the epochs into N checkpointed parts, each the first 1/N of a fresh
shuffle, under the same learning-rate schedule, so that a run longer than a sitting
loses at most one part; the model kept is then the last part's, not the best on the
zero-padded validation crops, which do not measure what the surroundings are for.
"""

import argparse
import dataclasses
import pathlib
import time

import keras
import tensorflow as tf

from dcn_keras import atomic, experiments, presets, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--context", type=int, nargs=2, default=(16, 32),
                        metavar=("ROWS", "COLUMNS"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=3e-4,
                        help="Adam's start, decayed to a tenth over the epochs (the paper "
                             "recipe starts from scratch at 1e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    args = parser.parse_args()
    family = presets.family("svhn")
    fine = training.load_model(args.run / "models" / "fine.keras", family)
    config = dataclasses.replace(fine.config, fine_context=tuple(args.context))
    models = args.out / "models"
    models.mkdir(parents=True, exist_ok=True)
    for link, target in ((args.out / "data", args.run / "data"),
                         (models / "coarse.keras", args.run / "models" / "coarse.keras")):
        if not link.exists():
            link.symlink_to(target.resolve())
    out_path = models / "fine.keras"
    if out_path.exists():
        print(f"{out_path} exists; delete it to train again.")
        return
    start = time.perf_counter()
    recipe = family.recipe("paper").replace(epochs=args.epochs, seed=args.seed,
                                            learning_rate=args.learning_rate)
    if args.parts == 1:
        experiments.train_model(family.with_config(config), "fine", args.out / "data",
                                out_path, recipe, verbose=2, start=fine)
    else:
        train_in_parts(family.with_config(config), args.out / "data", out_path, recipe,
                       args.parts, fine)
    print(f"{out_path}: {(time.perf_counter() - start) / 60:.0f} min")


def train_in_parts(family, data_dir, out_path, recipe, parts: int, start) -> None:
    """`recipe.epochs` of the fine model as `parts` epochs of 1/`parts` as many steps each;
    keeps the last part's weights."""
    keras.utils.set_random_seed(recipe.seed)
    train, valid = family.datasets(data_dir / "train.tfrecord", data_dir / "valid.tfrecord",
                                   recipe.batch_size, recipe.seed, kind="fine")
    steps = int(train.cardinality()) * recipe.epochs // parts
    train = train.take(steps).apply(tf.data.experimental.assert_cardinality(steps))
    options = {**family.train_options("fine", recipe), "epochs": parts}
    epochs_dir = out_path.with_name(f"{out_path.stem}_epochs")
    trained = out_path.with_name(f"{out_path.stem}_best_on_crops.keras")
    if not trained.exists():  # else killed after the last part, before the copy below
        training.train(family, "fine", train, valid, out_path=trained, verbose=2,
                       start=start, backup=training.backup_dir(out_path),
                       log_dir=out_path.with_name(f"{out_path.stem}_logs"),
                       epochs_dir=epochs_dir, **options)
    model = training.load_model(trained, family)
    model.load_weights(epochs_dir / f"epoch_{parts:02d}.weights.h5")
    with atomic.atomic_path(out_path) as path:
        model.save(path)


if __name__ == "__main__":
    main()
