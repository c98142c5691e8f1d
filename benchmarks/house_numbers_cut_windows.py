"""Fine-tune the coarse and fine models of a `dcn house-numbers` run with cut windows
(`data.sequence_inputs.cut_windows`: the svhn preset's share of training windows that cut
the number, target "no whole number", i.e. uniform softmaxes) and compose their DCN, so that the
recorded models and the fine-tuned ones can be compared on the same test images:

    .venv/bin/python benchmarks/house_numbers_cut_windows.py runs/house --out runs/house_cut

Writes OUT/models/{coarse,fine,dcn}.keras (with `<stem>_epochs/`, history and logs like
`dcn train`) and links OUT/data to the run's data. A killed run resumes from its last
finished epoch; a model that exists is skipped; a model given 0 epochs is the run's own.
`--cut-window-share` trains on another share of cut windows than the preset's, e.g. more
epochs of the fine model alone with half of each batch cut:

    .venv/bin/python benchmarks/house_numbers_cut_windows.py runs/house --out runs/house_cw50 \
        --coarse-epochs 0 --fine-epochs 1 --cut-window-share 0.5
"""

import argparse
import dataclasses
import pathlib

from dcn_keras import presets, training
from dcn_keras.atomic import atomic_path
from dcn_keras.data import sequence_inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--coarse-epochs", type=int, default=2)
    parser.add_argument("--fine-epochs", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--cut-window-share", type=float,
                        help="share of each training batch that cuts a number (default: the "
                             "preset's)")
    args = parser.parse_args()
    family = presets.family("svhn")
    recipe = family.recipe("paper")
    config = family.config  # the preset's cut_window_share, attention and combination
    if args.cut_window_share is not None:
        # Only the training data changes: the models keep the preset's configuration.
        config = dataclasses.replace(config, cut_window_share=args.cut_window_share)
    (args.out / "models").mkdir(parents=True, exist_ok=True)
    if not (args.out / "data").exists():
        (args.out / "data").symlink_to((args.run / "data").resolve())
    data = args.run / "data"
    train = sequence_inputs.crops(data / "train.tfrecord", config, recipe.batch_size, True,
                                  recipe.seed)
    valid = sequence_inputs.crops(data / "valid.tfrecord", config, recipe.batch_size, False)
    precision = training.resolve_precision(recipe.precision)
    models = {}
    for kind, epochs in (("coarse", args.coarse_epochs), ("fine", args.fine_epochs)):
        out_path = args.out / "models" / f"{kind}.keras"
        if epochs == 0 and not out_path.exists():
            out_path.symlink_to((args.run / "models" / f"{kind}.keras").resolve())
        if not out_path.exists():
            recorded = training.load_model(args.run / "models" / f"{kind}.keras", family)
            model = training.build(family, kind, precision)
            model.set_weights(recorded.get_weights())
            training.fit(model, family, train, valid, epochs, out_path, args.learning_rate,
                         batch_norm_images=recipe.batch_norm_images,
                         log_dir=out_path.with_name(f"{kind}_logs"),
                         epochs_dir=out_path.with_name(f"{kind}_epochs"))
            if precision != "float32":
                trained = training.load_model(out_path, family)
                copy = training.build(family, kind, "float32")
                copy.set_weights(trained.get_weights())
                with atomic_path(out_path) as path:
                    copy.save(path)
        models[kind] = training.load_model(out_path, family)
    # Under the preset's attention and combination, whatever the files recorded.
    dcn = family.compose(models["coarse"], models["fine"], recipe.num_patches, recipe.scales)
    with atomic_path(args.out / "models" / "dcn.keras") as path:
        dcn.save(path)
    print(f"wrote {args.out / 'models'}")


if __name__ == "__main__":
    main()
