"""The `dcn` command line: data, train, compose, evaluate, multiplications, bench, export,
experiment, house-numbers. It only parses; the work is in `dcn_keras.experiments` and the
families. It imports `dcn_keras` (and so TensorFlow) only once the arguments are parsed, and
each command the modules it needs, so that `--help` and a mistyped flag answer at once."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
import sys

PRESETS = ("cluttered_mnist", "house_numbers", "megapixel_mnist")
# Every preset's `dcn train --model` kinds, for `--help` without importing the presets.
MODEL_KINDS = ("coarse", "fine", "dcn_no_hints", "dcn", "low_resolution", "full_resolution")
DATASETS = PRESETS  # each family's data set has its preset's name
PROFILES = ("paper", "quick", "smoke")


class _Unknown(str):
    """A name that is none of `names`: an earlier name of one (`dcn_keras.aliases`) or a
    mistake, which `_resolve_names` tells apart once `dcn_keras` may be imported."""

    def __new__(cls, value: str, kind: str, option: str, names: tuple[str, ...]):
        name = super().__new__(cls, value)
        name.kind, name.option, name.names = kind, option, names
        return name


def _named(kind: str, names: tuple[str, ...], option: str):
    """An argparse type: one of `names`, or else an `_Unknown` name to resolve later."""
    def parse(value: str) -> str:
        return value if value in names else _Unknown(value, kind, option, names)
    return parse


def _resolve_names(parser, args) -> None:
    """Replace each earlier name in `args` by its current one (said on stderr), and refuse
    any other unknown name as argparse refuses a bad choice."""
    from dcn_keras import aliases

    for field, value in vars(args).items():
        if not isinstance(value, _Unknown):
            continue
        current = aliases.current(value.kind, str(value))
        if current is None or current not in value.names:
            parser.error(f"argument {value.option}: invalid choice: {str(value)!r} (choose "
                         f"from {', '.join(value.names)})")
        print(f"dcn: {aliases.message(value.kind, str(value))}", file=sys.stderr)
        setattr(args, field, current)


def _add_preset(parser, default: str = "cluttered_mnist", names: tuple[str, ...] = PRESETS,
                text: str | None = None) -> None:
    parser.add_argument("--preset", default=default, type=_named("preset", names, "--preset"),
                        metavar="{" + ",".join(names) + "}",
                        help=text or "the model family and its recipes")


def _add_module_file(parser) -> None:
    parser.add_argument("--module-file", default="",
                        help="a .py file defining coarse_network, fine_network and "
                             "top_network (and optional BASELINES): the DCN of those networks "
                             "on the preset's data (docs/own_networks.md)")


def _family(args):
    """The family of `--preset`, or of `--module-file`'s networks on its data, with
    `--cut-window-share` applied."""
    from dcn_keras import presets

    family = presets.family(args.preset, getattr(args, "module_file", ""))
    share = getattr(args, "cut_window_share", None)
    if share is None:
        return family
    if not hasattr(family.config, "cut_window_share"):
        raise ValueError(f"--cut-window-share shapes house_numbers training windows; preset "
                         f"{args.preset!r} has none. Leave it off.")
    return family.with_config(dataclasses.replace(family.config, cut_window_share=share))


def _add_profile(parser) -> None:
    parser.add_argument("--profile", default="paper", choices=PROFILES,
                        help="the recipe every setting left out comes from: paper (the "
                             "recorded run), quick or smoke")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where it has none of its own: those settings come
    from the recipe of --profile, which the flag's help says."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _recipe(args, family):
    """The recipe of `--profile` with every given flag applied. An experiment's `--seed`
    without `--seeds` trains with that one seed."""
    seeds = getattr(args, "seeds", None)
    if seeds is None and "seeds" in args and getattr(args, "seed", None) is not None:
        seeds = [args.seed]
    return family.recipe(
        getattr(args, "profile", "paper"), train_images=getattr(args, "train", None),
        valid_images=getattr(args, "valid", None), test_images=getattr(args, "test", None),
        seed=getattr(args, "seed", None), epochs=getattr(args, "epochs", None),
        dcn_epochs=getattr(args, "dcn_epochs", None),
        batch_size=getattr(args, "batch_size", None),
        learning_rate=getattr(args, "learning_rate", None),
        num_patches=getattr(args, "num_patches", None),
        hint_weight=getattr(args, "hint_weight", None),
        precision=getattr(args, "precision", None),
        seeds=tuple(seeds) if seeds else None,
        fresh_canvases=getattr(args, "fresh_canvases", None))


def cmd_data(args) -> None:
    from dcn_keras import experiments, presets

    family = presets.family_of_dataset(args.dataset)
    metadata = experiments.build_data(family, args.out, _recipe(args, family), args.mnist_dir,
                                      args.side)
    print(family.data.describe(metadata))
    print(f"Wrote {args.out}")


def cmd_train(args) -> None:
    from dcn_keras import distribute, experiments, training

    distribute.strategy()  # before any TensorFlow op: a TF_CONFIG cluster needs it first
    family = _family(args)
    if args.start and args.warm_start:
        raise ValueError("Pass --start (a composed DCN) or --warm-start (a coarse and a fine "
                         "model), not both.")
    start = training.load_model(args.start, family) if args.start else None
    if args.warm_start:
        coarse, fine = (training.load_model(path, family) for path in args.warm_start)
        start = family.warm_start(coarse, fine, args.num_patches)
    experiments.train_model(family, args.model, args.data, args.out, _recipe(args, family),
                            args.verbose, start)
    out = pathlib.Path(args.out)
    history = out.with_name(f"{out.stem}_history.csv")
    print(f"Saved {args.model} model to {out}: {experiments.best_epoch(family, history)}")
    print(f"History: {history}; TensorBoard: tensorboard --logdir "
          f"{out.with_name(out.stem + '_logs')}")


def cmd_compose(args) -> None:
    from dcn_keras import experiments, presets

    family = presets.family(args.preset)
    report = experiments.compose_models(family, args.data, args.coarse, args.fine, args.out,
                                        _recipe(args, family))
    if report:
        print(report["markdown"])
    print(f"Saved the composed DCN to {args.out}")


def cmd_evaluate(args) -> None:
    if args.merge:
        out = _merge_reports(args)
    elif not (args.data and args.models):
        raise ValueError("give --data and --models (or --merge with the results.json of "
                         "runs scored apart)")
    else:
        family = _family(args)
        out = family.for_data(args.data).report(args.data, args.models, args.out,
                                                _recipe(args, family))
    print(out["markdown"])
    print(f"Wrote {args.out}/results.md, results.json and plots")


def _merge_reports(args) -> dict:
    """`cluttered_mnist.report.merge` of the `--merge` files."""
    if args.preset != "cluttered_mnist" or args.module_file or args.data or args.models:
        raise ValueError("--merge combines Cluttered MNIST Table 1 reports: give it without "
                         "--data, --models, --module-file and another --preset")
    reports = []
    for path in args.merge:
        try:
            reports.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read the report {path}: {error}") from None
        if not {"rows", "paired_with_fine", "error_versus_patches_per_seed"} <= set(
                reports[-1]):
            raise ValueError(f"{path} is not a Table 1 results.json of `dcn evaluate` or "
                             "`dcn experiment`")
    from dcn_keras.cluttered_mnist import report

    return report.merge(reports, args.out)


def _input_size(value: str) -> tuple[int, int]:
    try:
        height, width = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 200x200, got {value!r}") from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"expected a positive HxW such as 200x200, got "
                                         f"{value!r}")
    return height, width


def _integer(value: str, low: int) -> int:
    """`value` as an integer >= `low`; argparse reports the error with the flag's name."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
    if number < low:
        # Zero images, epochs or steps would run without a word and save an untrained model.
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value!r}")
    return number


def _positive(value: str) -> int:
    return _integer(value, 1)


# `dcn_keras.recipe.MAX_SEED`, repeated so that parsing needs no import of `dcn_keras`.
MAX_SEED = 2**32 - 1


def _seed(value: str) -> int:
    """A seed as NumPy's global generator takes it; a larger one would build the data and
    be refused only when training starts."""
    number = _integer(value, 0)
    if number > MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {MAX_SEED}, got "
                                         f"{value!r}")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {value!r}")
    return number


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not 0 <= number < 1:  # False for NaN as well
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value!r}")
    return number


def cmd_multiplications(args) -> None:
    from dcn_keras import presets, visualize

    family = presets.family(args.preset)
    counts = [family.multiplications(args.patches, *size)
              for size in args.input_size or [(None, None)]]
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
    from dcn_keras import atomic, measure, presets, visualize
    from dcn_keras.cluttered_mnist import speed

    config = presets.get(args.preset)
    config = config.resized(*args.input_size) if args.input_size else config
    result = speed.run(config, args.batch_size, args.models, args.data, args.repeats,
                       train=not args.no_train, memory=not args.no_memory)
    result["machine"] = measure.machine_description()
    if args.plot:
        visualize.plot_benchmark(result, args.plot)
    text = json.dumps(result, indent=2) if args.json else speed.summary(result)
    if args.out:
        atomic.write_text(args.out, json.dumps(result, indent=2))
    print(text)


def cmd_export(args) -> None:
    from dcn_keras import training
    from dcn_keras.serving import export

    family = _family(args)
    model = training.load_model(args.model, family)
    path = export.export_saved_model(model, args.out, family, args.version)
    print(f"Exported TF Serving SavedModel version {path.name} to {path}")
    print(f"Inspect it with: saved_model_cli show --dir {path} --all")


def cmd_experiment(args) -> None:
    from dcn_keras import experiments, seeds

    family = _family(args)
    recipe = _recipe(args, family)
    result = experiments.run(family, recipe, args.out, args.mnist_dir, args.verbose,
                             getattr(args, "side", None))
    print(result["markdown"])
    print(f"Report: {args.out}/report/results.md (plots beside it)")
    dcn = seeds.model_path(pathlib.Path(args.out) / "models", "dcn", recipe.seeds[0],
                           recipe.seeds)
    if dcn.exists():
        serving = pathlib.Path(args.out) / "serving"
        module = getattr(args, "module_file", "")
        module = f" --module-file {module}" if module else ""
        print(f"DCN: {dcn} (serve it with `dcn export --preset {args.preset}{module} --model "
              f"{dcn} --out {serving}`)")


def _add_data_args(parser) -> None:
    parser.add_argument("--mnist-dir", default=None,
                        help="directory of MNIST IDX files (default $DCN_MNIST_DIR, else tfds)")
    _add_profile(parser)
    parser.add_argument("--train", type=_positive, default=None,
                        help="training images (default: the recipe's)")
    parser.add_argument("--valid", type=_positive, default=None,
                        help="validation images (default: the recipe's)")
    parser.add_argument("--test", type=_positive, default=None,
                        help="test images (default: the recipe's)")
    parser.add_argument("--seed", type=_seed, default=None,
                        help="seed of the data (and of the training, for one seed) "
                             "(default: the recipe's, 0)")
    parser.add_argument("--side", type=_positive, default=None,
                        help="megapixel_mnist: the canvas side in pixels (default: 1500); "
                             "the models take the side of their data")


def _add_train_args(parser) -> None:
    parser.add_argument("--epochs", type=_positive, default=None,
                        help="training epochs (default: the recipe's)")
    parser.add_argument("--dcn-epochs", type=_positive, default=None,
                        help="epochs of the DCN models (default: the recipe's, else --epochs)")
    parser.add_argument("--batch-size", type=_positive, default=None,
                        help="training batch size (default: the recipe's)")
    parser.add_argument("--learning-rate", type=_positive_float, default=None,
                        help="Adam's initial learning rate, decayed by a cosine (default: the "
                             "recipe's)")
    parser.add_argument("--num-patches", type=_positive, default=None,
                        help="k, the patches the fine layers read (default: the recipe's, "
                             "else the preset's)")
    parser.add_argument("--hint-weight", type=_fraction, default=None,
                        help="convex hint weight of `dcn` models, in [0, 1) (default: the "
                             "recipe's, else the preset's)")
    parser.add_argument("--precision", default=None, choices=("float32", "bfloat16", "auto"),
                        help="training precision; bfloat16 (mixed) is faster on CPUs with "
                             "AVX512-BF16 or AMX and on GPUs, many times slower elsewhere; "
                             "auto picks it where it is native; models are saved in float32 "
                             "(default: the recipe's)")
    parser.add_argument("--fresh-canvases", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="cluttered_mnist: draw new training canvases every epoch from "
                             "the training digits, as many as the training split holds "
                             "(default: the recipe's)")
    parser.add_argument("--cut-window-share", type=_fraction, default=None,
                        help="house_numbers: the share of each training batch that are "
                             "windows cutting the number, with a 'no whole number' target; "
                             "0 trains as the paper does (default: the preset's, 0.25)")
    parser.add_argument("--verbose", default="auto", type=_verbosity,
                        help="Keras fit verbosity: auto, 0, 1 or 2")


def _verbosity(value: str) -> int | str:
    if value not in ("auto", "0", "1", "2"):
        raise argparse.ArgumentTypeError(f"expected auto, 0, 1 or 2, got {value!r}")
    return int(value) if value.isdigit() else value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dcn", formatter_class=_Formatter,
        description="Dynamic Capacity Networks: build the data sets, train, compose and "
                    "evaluate models, count multiplications, time them, export them for TF "
                    "Serving, or run a whole experiment.",
        epilog="Every size and training setting defaults to the preset's recipe "
               "(dcn_keras/<family>/config.py); flags override it.")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="build Cluttered MNIST (MNIST house numbers, "
                                             "Megapixel MNIST) TFRecords")
    data.add_argument("--out", required=True,
                      help="the data directory to write (replaced as a whole)")
    data.add_argument("--dataset", default="cluttered_mnist",
                      type=_named("data set", DATASETS, "--dataset"),
                      metavar="{" + ",".join(DATASETS) + "}",
                      help="house_numbers: the SVHN-like transfer benchmark; "
                           "megapixel_mnist: 1500x1500 canvases")
    _add_data_args(data)
    data.set_defaults(run=cmd_data)

    train = commands.add_parser("train", help="train one model")
    train.add_argument("--data", required=True, help="directory made by `dcn data`")
    train.add_argument("--model", required=True,
                       metavar="{" + ",".join(MODEL_KINDS) + "}",
                       help="house_numbers trains coarse and fine (its DCN is composed); "
                            "megapixel_mnist low_resolution, full_resolution and dcn; with "
                            "--module-file, dcn and the module's BASELINES")
    train.add_argument("--out", required=True, help="output .keras file")
    _add_preset(train)
    _add_module_file(train)
    _add_profile(train)
    train.add_argument("--seed", type=_seed, default=None,
                       help="seed of the weights and the training order (default: the "
                            "recipe's, 0)")
    train.add_argument("--start", default=None,
                       help="a composed DCN (`dcn compose`) that a dcn / dcn_no_hints model "
                            "fine-tunes end to end instead of starting from fresh weights; "
                            "for house_numbers, a trained model of the same kind to train "
                            "further")
    train.add_argument("--warm-start", nargs=2, default=None, metavar=("COARSE", "FINE"),
                       help="a dcn / dcn_no_hints model starts from the coarse layers of "
                            "COARSE and the fine and top layers of FINE (.keras models "
                            "trained apart): the paper's DCN, no bridge")
    _add_train_args(train)
    train.set_defaults(run=cmd_train)

    compose_ = commands.add_parser(
        "compose", help="a DCN from a coarse and a fine model trained apart (neither retrained)")
    compose_.add_argument("--data", required=True,
                          help="directory made by `dcn data` (Cluttered MNIST fits its bridge "
                               "on the training split and reports on the validation split)")
    compose_.add_argument("--coarse", required=True, help="coarse .keras model")
    compose_.add_argument("--fine", required=True, help="fine .keras model")
    compose_.add_argument("--out", required=True,
                          help="output .keras file; the report goes to <stem>_composition/")
    _add_preset(compose_)
    _add_profile(compose_)
    compose_.add_argument("--num-patches", type=_positive, default=None, help="k")
    compose_.add_argument("--seed", type=_seed, default=None,
                          help="shuffle seed of the training images the bridge is fitted on")
    compose_.set_defaults(run=cmd_compose)

    evaluate_ = commands.add_parser("evaluate", help="compare trained models on the test split")
    evaluate_.add_argument("--data", help="directory made by `dcn data` (required without "
                                          "--merge)")
    evaluate_.add_argument("--models",
                           help="directory of <kind>.keras (or <kind>_s<seed>.keras) files "
                                "(required without --merge)")
    evaluate_.add_argument("--merge", nargs="+", type=pathlib.Path, default=None,
                           metavar="RESULTS_JSON",
                           help="cluttered_mnist: instead of scoring models, merge the "
                                "results.json of runs scored apart on the same test split, "
                                "each with its own seeds, into one Table 1")
    evaluate_.add_argument("--out", required=True,
                           help="report directory (results.md, results.json, plots)")
    _add_preset(evaluate_)
    _add_module_file(evaluate_)
    _add_profile(evaluate_)
    evaluate_.add_argument("--batch-size", type=_positive, default=None,
                           help="scoring and timing batch size (default: the recipe's)")
    evaluate_.add_argument("--num-patches", type=_positive, default=None,
                           help="house_numbers: k of the composed DCN")
    evaluate_.set_defaults(run=cmd_evaluate)

    multiplications_ = commands.add_parser("multiplications", aliases=["flops"],
                                 help="multiplications per input")
    _add_preset(multiplications_)
    multiplications_.add_argument("--patches", type=_positive, default=None,
                        help="k (default: preset's)")
    multiplications_.add_argument("--input-size", type=_input_size, nargs="+", default=None,
                        metavar="HxW", help="one or more input sizes (default: the preset's)")
    multiplications_.add_argument("--json", action="store_true",
                                  help="print the counts layer by layer as JSON")
    multiplications_.add_argument("--plot", default=None,
                        help="write a PNG of multiplications versus input size")
    multiplications_.set_defaults(run=cmd_multiplications)

    bench = commands.add_parser("bench", help="time coarse, fine and DCN side by side")
    # The speed benchmark is the Cluttered MNIST one; the house-numbers timings are part of
    # its Table 2 report.
    _add_preset(bench, names=("cluttered_mnist",))
    bench.add_argument("--batch-size", type=_positive, default=64, help="images per call")
    bench.add_argument("--repeats", type=_positive, default=20, help="timed repeats (median)")
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
    export_.add_argument("--version", type=_positive, default=None,
                         help="version number (default: one more than the highest there)")
    _add_preset(export_, text="house_numbers: a composed DCN (dcn house-numbers' dcn.keras)")
    _add_module_file(export_)
    export_.set_defaults(run=cmd_export)

    for name, preset, text in (
            ("experiment", None, "data + every model of the preset + its report (Table 1 for "
                                 "cluttered_mnist, Table 2 for house_numbers, the DCN "
                                 "against the low-resolution CNN for megapixel_mnist)"),
            ("house-numbers", "house_numbers",
             "MNIST house numbers (SVHN transfer setting): data + coarse and fine models "
             "trained apart + Table 2; the same as `experiment --preset house_numbers`")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--out", required=True,
                             help="run directory: data/, models/ and report/ go there")
        if preset is None:
            _add_preset(command)
            _add_module_file(command)
        _add_data_args(command)
        command.add_argument("--seeds", type=_seed, nargs="+", default=None,
                             help="train every model once per seed (default: the recipe's; "
                                  "--seed alone: that one)")
        _add_train_args(command)
        command.set_defaults(run=cmd_experiment, **({"preset": preset} if preset else {}))
    for command in commands.choices.values():
        command.formatter_class = _Formatter
    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    """The errors that are reported as one line: bad input, not a bug. TensorFlow's own
    (an in-graph check of the data failing mid-run) only once TensorFlow is loaded."""
    errors = (ValueError, TypeError, OSError, RuntimeError)
    tf = sys.modules.get("tensorflow")
    return errors + (tf.errors.OpError,) if tf is not None else errors


def _message(error: BaseException) -> str:
    """The error's message without TensorFlow's graph-execution preamble and node names."""
    text = getattr(error, "message", None) or str(error)
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith(
        ("Graph execution error", "Detected at", "File ", "<stack", "[[")))


def parse_args(argv=None) -> argparse.Namespace:
    """The parsed arguments, earlier names replaced by current ones (`_resolve_names`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _resolve_names(parser, args)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from dcn_keras import aliases

    if aliases.current("command", args.command):
        print(f"dcn: {aliases.message('command', args.command)}", file=sys.stderr)
    try:
        args.run(args)
    except _expected_errors() as error:
        print(f"dcn {args.command}: error: {_message(error)}", file=sys.stderr)
        return 2
    except MemoryError as error:
        # NumPy's "Unable to allocate 3.55 PiB ..." for a size beyond the machine's memory.
        print(f"dcn {args.command}: error: out of memory ({_message(error) or 'MemoryError'})."
              " Pass a smaller --batch-size, --input-size or split size.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
