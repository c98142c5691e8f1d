"""The `dcn` command line: data, train, evaluate, flops, bench, export, experiment."""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

def cmd_data(args) -> None:
    from dcn_keras.data import cluttered_mnist, mnist_sequences

    dataset = {"cluttered_mnist": cluttered_mnist,
               "mnist_house_numbers": mnist_sequences}[args.dataset]
    metadata = dataset.build(args.out, args.mnist_dir,
                             {"train": args.train, "valid": args.valid, "test": args.test},
                             seed=args.seed)
    print(dataset.describe(metadata))
    print(f"Wrote {args.out}")


def cmd_train(args) -> None:
    import keras

    from dcn_keras import presets, training
    from dcn_keras.data import tfrecords

    config = presets.get(args.preset)
    keras.utils.set_random_seed(args.seed)
    train, valid, _ = tfrecords.splits(args.data, config.image_shape, args.batch_size, args.seed)
    model = training.build_model(args.model, config, args.num_patches, args.hint_weight)
    training.fit(model, train, valid, args.epochs, args.out, args.learning_rate,
                 verbose=args.verbose)
    print(f"Saved {args.model} model to {args.out}")


def cmd_evaluate(args) -> None:
    from dcn_keras import report

    out = report.evaluate(args.data, args.models, args.out, args.preset, args.batch_size)
    print(out["markdown"])
    print(f"Wrote {args.out}/results.md, results.json and plots")


def _input_size(value: str) -> tuple[int, int]:
    try:
        height, width = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 200x200, got {value!r}")
    return height, width


def _config(args):
    from dcn_keras import presets

    config = presets.get(args.preset)
    return config.resized(*args.input_size) if args.input_size else config


def cmd_flops(args) -> None:
    from dcn_keras import flops, presets, validation, visualize
    from dcn_keras.config import MultiDigitConfig

    config = presets.get(args.preset)
    if isinstance(config, MultiDigitConfig):
        sizes = args.input_size or [config.train_size]
        counts = [flops.count_multi_digit(config, args.patches, *size) for size in sizes]
    else:
        counts = []
        for size in args.input_size or [config.image_shape[:2]]:
            sized = config.resized(*size)
            validation.check_num_patches(args.patches or sized.num_patches, sized)
            counted = flops.count(sized, args.patches)
            counted["paper_comparison"] = flops.compare_with_paper(counted)
            counts.append(counted)
    if args.plot:
        visualize.plot_multiplications_versus_size(counts, args.plot)
    if args.json:
        print(json.dumps(counts[0] if len(counts) == 1 else counts, indent=2))
        return
    for counted in counts:
        print("{}x{}:".format(*counted["input_size"]))
        for name in ("coarse_model", "fine_model", "dcn"):
            print(f"{name:>13}: {counted[name]['total'] / 1e6:10.2f}M multiplications")


def cmd_bench(args) -> None:
    from dcn_keras import atomic, benchmark, report, visualize

    config = _config(args)
    result = benchmark.run(config, args.batch_size, args.models, args.data, args.repeats,
                           train=not args.no_train, memory=not args.no_memory)
    result["machine"] = report.machine_description()
    if args.plot:
        visualize.plot_benchmark(result, args.plot)
    text = json.dumps(result, indent=2) if args.json else benchmark.summary(result)
    if args.out:
        atomic.write_text(args.out, json.dumps(result, indent=2))
    print(text)


def cmd_export(args) -> None:
    from dcn_keras import export, presets, training

    model = training.load_model(args.model, presets.get(args.preset))
    path = export.export_saved_model(model, args.out, args.version)
    print(f"Exported TF Serving SavedModel version {path.name} to {path}")
    print(f"Inspect it with: saved_model_cli show --dir {path} --all")


def cmd_experiment(args) -> None:
    from dcn_keras import report, training

    out = pathlib.Path(args.out)
    data_dir = out / "data"
    if not (data_dir / "metadata.json").exists():
        args.out = str(data_dir)
        cmd_data(args)
    for kind in training.MODEL_KINDS:
        path = out / "models" / f"{kind}.keras"
        if path.exists():
            print(f"{path} exists: skipping (delete it to retrain)")
            continue
        print(f"== training {training.TITLES[kind]} ==", flush=True)
        cmd_train(argparse.Namespace(**{**vars(args), "data": str(data_dir), "model": kind,
                                        "out": str(path)}))
    result = report.evaluate(data_dir, out / "models", out / "report", args.preset,
                             args.batch_size)
    print(result["markdown"])
    print(f"Report: {out / 'report'}/results.md (plots beside it)")


def cmd_house_numbers(args) -> None:
    import keras

    from dcn_keras import multi_digit_report, presets, report, training
    from dcn_keras.atomic import atomic_path
    from dcn_keras.data import mnist_sequences, sequence_inputs
    from dcn_keras.multi_digit_dcn import MultiDigitDCN

    config = presets.svhn()
    out = pathlib.Path(args.out)
    data_dir, models_dir = out / "data", out / "models"
    if not (data_dir / "metadata.json").exists():
        mnist_sequences.build(data_dir, args.mnist_dir, {"train": args.train,
                                                         "valid": args.valid,
                                                         "test": args.test}, seed=args.seed)
    metadata = json.loads((data_dir / "metadata.json").read_text())
    keras.utils.set_random_seed(args.seed)
    models = {}
    for part in ("coarse", "fine"):
        path = models_dir / f"{part}.keras"
        if not path.exists():
            print(f"== training the {part} model on tight crops ==", flush=True)
            train = sequence_inputs.crops(data_dir / "train.tfrecord", config,
                                          args.batch_size, True, args.seed)
            valid = sequence_inputs.crops(data_dir / "valid.tfrecord", config,
                                          args.batch_size, False)
            training.fit_multi_digit(config, part, train, valid, args.epochs, path,
                                     args.learning_rate, args.precision, args.verbose)
        models[part] = training.load_model(path, config)
    dcn = MultiDigitDCN(models["coarse"], models["fine"], args.num_patches)
    with atomic_path(models_dir / "dcn.keras") as path:
        dcn.save(path)
    examples = sequence_inputs.full_images(data_dir / "test.tfrecord")
    result = multi_digit_report.compare(dcn, examples, mnist_sequences.describe(metadata),
                                        report.machine_description(), out / "report")
    print(result["markdown"])
    print(f"Report: {out / 'report'}/results.md (patches.png beside it)")
    print(f"Composed DCN: {models_dir / 'dcn.keras'} (serve it with `dcn export --preset svhn`)")


def _add_data_args(parser) -> None:
    parser.add_argument("--mnist-dir", default=None,
                        help="directory of MNIST IDX files (default $DCN_MNIST_DIR, else tfds)")
    parser.add_argument("--train", type=int, default=28000, help="training images")
    parser.add_argument("--valid", type=int, default=1000, help="validation images")
    parser.add_argument("--test", type=int, default=2000, help="test images")
    parser.add_argument("--seed", type=int, default=0)


def _add_train_args(parser) -> None:
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--num-patches", type=int, default=None, help="k (default: preset's)")
    parser.add_argument("--hint-weight", type=float, default=None,
                        help="convex hint weight for `dcn` (default: preset's)")
    parser.add_argument("--verbose", default="auto", type=_verbosity,
                        help="Keras fit verbosity: auto, 0, 1 or 2")


def _verbosity(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def build_parser() -> argparse.ArgumentParser:
    from dcn_keras import training
    from dcn_keras.config import DCNConfig
    from dcn_keras.presets import PRESETS

    # The multi-digit (SVHN) preset has multiplication counts so far; the other commands
    # take the single-label presets.
    single = sorted(name for name, make in PRESETS.items() if isinstance(make(), DCNConfig))

    parser = argparse.ArgumentParser(prog="dcn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="build Cluttered MNIST (or MNIST house numbers) "
                                             "TFRecords")
    data.add_argument("--out", required=True)
    data.add_argument("--dataset", default="cluttered_mnist",
                      choices=("cluttered_mnist", "mnist_house_numbers"),
                      help="mnist_house_numbers: the SVHN-like transfer benchmark")
    _add_data_args(data)
    data.set_defaults(run=cmd_data)

    train = commands.add_parser("train", help="train one model")
    train.add_argument("--data", required=True, help="directory made by `dcn data`")
    train.add_argument("--model", required=True, choices=training.MODEL_KINDS)
    train.add_argument("--out", required=True, help="output .keras file")
    train.add_argument("--preset", default="cluttered_mnist", choices=single)
    train.add_argument("--seed", type=int, default=0)
    _add_train_args(train)
    train.set_defaults(run=cmd_train)

    evaluate_ = commands.add_parser("evaluate", help="compare trained models on the test split")
    evaluate_.add_argument("--data", required=True)
    evaluate_.add_argument("--models", required=True, help="directory of <kind>.keras files")
    evaluate_.add_argument("--out", required=True)
    evaluate_.add_argument("--preset", default="cluttered_mnist", choices=single)
    evaluate_.add_argument("--batch-size", type=int, default=64)
    evaluate_.set_defaults(run=cmd_evaluate)

    flops_ = commands.add_parser("flops", help="multiplications per input")
    flops_.add_argument("--preset", default="cluttered_mnist", choices=sorted(PRESETS))
    flops_.add_argument("--patches", type=int, default=None, help="k (default: preset's)")
    flops_.add_argument("--input-size", type=_input_size, nargs="+", default=None,
                        metavar="HxW", help="one or more input sizes (default: the preset's)")
    flops_.add_argument("--json", action="store_true")
    flops_.add_argument("--plot", default=None,
                        help="write a PNG of multiplications versus input size")
    flops_.set_defaults(run=cmd_flops)

    bench = commands.add_parser("bench", help="time coarse, fine and DCN side by side")
    bench.add_argument("--preset", default="cluttered_mnist", choices=single)
    bench.add_argument("--batch-size", type=int, default=64)
    bench.add_argument("--repeats", type=int, default=20, help="timed repeats (median)")
    bench.add_argument("--input-size", type=_input_size, default=None, metavar="HxW",
                       help="input size for freshly initialised models (default: the preset's)")
    bench.add_argument("--models", default=None,
                       help="directory of trained coarse/fine/dcn .keras (default: fresh weights)")
    bench.add_argument("--data", default=None,
                       help="directory made by `dcn data`: time on real test images (default: "
                            "random); with --models also measures test error versus k")
    bench.add_argument("--json", action="store_true", help="print the full result as JSON")
    bench.add_argument("--out", default=None, help="also write the JSON to this file")
    bench.add_argument("--plot", default=None, help="write a PNG of time (and error) versus k")
    bench.add_argument("--no-train", action="store_true", help="skip training-step timing")
    bench.add_argument("--no-memory", action="store_true", help="skip peak-memory probes")
    bench.set_defaults(run=cmd_bench)

    export_ = commands.add_parser("export", help="write a versioned TF Serving SavedModel")
    export_.add_argument("--model", required=True, help="DCN .keras file")
    export_.add_argument("--out", required=True,
                         help="model base path; the version goes in a numbered folder inside")
    export_.add_argument("--version", type=int, default=None,
                         help="version number (default: one more than the highest there)")
    export_.add_argument("--preset", default="cluttered_mnist", choices=sorted(PRESETS),
                         help="svhn: a composed multi-digit DCN (dcn house-numbers' dcn.keras)")
    export_.set_defaults(run=cmd_export)

    house = commands.add_parser(
        "house-numbers", help="MNIST house numbers (SVHN transfer setting): data + coarse and "
                              "fine models trained apart + Table 2")
    house.add_argument("--out", required=True)
    _add_data_args(house)
    house.add_argument("--epochs", type=int, default=10)
    house.add_argument("--batch-size", type=int, default=32)
    house.add_argument("--learning-rate", type=float, default=1e-3,
                       help="Adam, decayed exponentially to a tenth")
    house.add_argument("--precision", default="float32", choices=("float32", "bfloat16"),
                       help="training precision; bfloat16 (mixed) speeds training up on CPUs "
                            "with AVX512-BF16 and GPUs; models are saved in float32")
    house.add_argument("--num-patches", type=int, default=None, help="k (default: 6)")
    house.add_argument("--verbose", default="auto", type=_verbosity)
    house.set_defaults(run=cmd_house_numbers)

    experiment = commands.add_parser(
        "experiment", help="data + train coarse, fine, DCN w/o and with hints + evaluate")
    experiment.add_argument("--out", required=True)
    experiment.add_argument("--preset", default="cluttered_mnist", choices=single)
    _add_data_args(experiment)
    _add_train_args(experiment)
    experiment.set_defaults(run=cmd_experiment, dataset="cluttered_mnist")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, TypeError, OSError, RuntimeError) as error:
        print(f"dcn {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
