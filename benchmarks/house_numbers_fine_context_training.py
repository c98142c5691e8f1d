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
"""

import argparse
import dataclasses
import pathlib
import time

from dcn_keras import experiments, presets, training


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
    experiments.train_model(family.with_config(config), "fine", args.out / "data", out_path,
                            recipe, verbose=2, start=fine)
    print(f"{out_path}: {(time.perf_counter() - start) / 60:.0f} min")


if __name__ == "__main__":
    main()
