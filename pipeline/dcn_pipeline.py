"""Runs the DCN pipeline: the script that `python pipeline/dcn_pipeline.py` and the TFX CLI
point at (the TFX templates' `local_runner.py` / `kubeflow_v2_runner.py` in one).

    python pipeline/dcn_pipeline.py --profile quick --mnist-dir ../shared/data/mnist

Other arguments go to Beam if they are Beam pipeline options (e.g. `--direct_num_workers=2
--direct_running_mode=multi_processing` or `--runner=FlinkRunner ...`); anything else, a
misspelled flag among them, is refused before the pipeline runs. The TFX CLI takes no
flags (use DCN_PROFILE, DCN_MNIST_DIR, DCN_PIPELINE_ROOT, DCN_PIPELINE_NAME, DCN_PRESET,
DCN_SVHN_DIR, DCN_START, DCN_MODULE_FILE; see pipeline/configs.py):

    tfx pipeline create --engine local --pipeline_path "$PWD/pipeline/dcn_pipeline.py"
    tfx run create --engine local --pipeline_name dcn-cluttered-mnist-quick

The graph is in pipeline/graph.py; sizes and training settings are the preset's recipe.
"""

from __future__ import annotations

import argparse
import os
import sys

# The folder of this script comes first on sys.path when it runs as a script; the pipeline
# package is imported from the repository root instead.
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dcn_keras import quiet  # noqa: E402

quiet.import_tensorflow()
quiet.quiet_tfx()

from apache_beam.options import pipeline_options  # noqa: E402

from components import artifacts  # noqa: E402
from dcn_keras import aliases, recipe  # noqa: E402
from dcn_keras.house_numbers.dcn import ATTENTION, COMBINATION  # noqa: E402
from pipeline import configs  # noqa: E402
from pipeline.graph import DCN_STARTS, check_single_channels, create_pipeline  # noqa: E402


def _pipeline_name(name: str) -> str:
    """`configs.check_name` as an argparse type ("" is the default name)."""
    try:
        return configs.check_name(name) if name else name
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _seed(value: str) -> int:
    """A training seed (0 ... `recipe.MAX_SEED`) as an argparse type."""
    try:
        seed = int(value)
    except ValueError:
        seed = -1
    if not 0 <= seed <= recipe.MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to {recipe.MAX_SEED}, got {value!r}")
    return seed


def _not_beam_options(args: list[str]) -> list[str]:
    """The arguments of `args` that no Beam pipeline option class parses.

    Beam itself only logs "Discarding unparseable args" for them and runs on: a misspelled
    flag of this runner would go unnoticed. This is the parser that Beam's
    `PipelineOptions.get_all_options` builds from every option class."""
    parser = pipeline_options._BeamArgumentParser(allow_abbrev=False)
    # One class per name, as Beam takes them (a class can be defined twice in __main__).
    classes = {str(cls): cls for cls in pipeline_options.PipelineOptions.__subclasses__()}
    for cls in classes.values():
        cls._add_argparse_args(parser)
    return parser.parse_known_args(args)[1]


def parse_args(argv=None) -> tuple[argparse.Namespace, list[str]]:
    """The runner's flags and the Beam pipeline options among `argv`; exits with a parser
    error (status 2) naming any argument that is neither."""
    defaults = configs.PipelineConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default=defaults.preset,
                        choices=(*configs.PRESETS, *aliases.EARLIER["preset"]),
                        metavar="{" + ",".join(configs.PRESETS) + "}")
    parser.add_argument("--profile", default=defaults.profile, choices=configs.PROFILES,
                        help="the preset's recipe: paper (the recorded run), quick or smoke")
    parser.add_argument("--mnist-dir", default=defaults.mnist_dir,
                        help="directory of MNIST IDX files (default $DCN_MNIST_DIR, else tfds)")
    parser.add_argument("--svhn-dir", default=defaults.svhn_dir,
                        help="house_numbers preset: folder with SVHN format-1 train and test "
                             "(.tar.gz or extracted; optional extra); default: MNIST house "
                             "numbers")
    parser.add_argument("--pipeline-root", default=defaults.pipeline_root,
                        help="artifacts, ML Metadata (metadata.sqlite) and serving/ go here")
    parser.add_argument("--pipeline-name", default=defaults.pipeline_name, type=_pipeline_name,
                        help="letters, digits and hyphens; default dcn-<preset>-<profile> with "
                             "hyphens (Kubeflow forbids \"_\")")
    parser.add_argument("--seed", type=_seed, default=defaults.seed,
                        help="seed of the data and of every trainer (default: %(default)s)")
    parser.add_argument("--dcn-start", default=defaults.dcn_start, choices=DCN_STARTS,
                        help="cluttered_mnist: the DCN trainer starts from the coarse and "
                             "fine models' layers (the paper's DCN) or from the composed DCN, "
                             "bridge kept (an extension) (default: %(default)s)")
    parser.add_argument("--attention", default="", choices=("", *ATTENTION),
                        help="house_numbers: how the pushed DCN picks patches: "
                             "entropy_gradient (the paper's) or confidence (an extension) "
                             "(default: the preset's, confidence)")
    parser.add_argument("--combination", default="", choices=("", *COMBINATION),
                        help="house_numbers: how it combines the picks: inverse_entropy (the "
                             "paper's Eq. 12-14, scales averaged) or sequence_vote (an "
                             "extension) (default: the preset's, sequence_vote)")
    parser.add_argument("--module-file", default=defaults.module_file,
                        help="a .py file defining coarse_network, fine_network, top_network "
                             "and BASELINES: the pipeline trains, evaluates and pushes the "
                             "DCN of those networks on the preset's data (docs/own_networks.md)")
    parser.add_argument("--orchestrator", default="local", choices=configs.ORCHESTRATORS,
                        help="kubeflow_v2 writes the KFP V2 / Vertex pipeline JSON instead")
    parser.add_argument("--image", default="gcr.io/your-project/dcn-keras:latest",
                        help="container image for --orchestrator kubeflow_v2")
    args, beam_args = parser.parse_known_args(argv)
    unknown = _not_beam_options(beam_args)
    if unknown:
        flags = [action.option_strings[-1] for action in parser._actions
                 if action.option_strings and action.dest != "help"]
        parser.error(f"unrecognized arguments: {' '.join(unknown)}. They are neither flags of "
                     f"this runner ({', '.join(flags)}) nor Beam pipeline options (such as "
                     "--direct_num_workers=2); check their spelling.")
    return args, beam_args


def main(argv=None) -> None:
    args, beam_args = parse_args(argv)
    config = configs.PipelineConfig(
        preset=args.preset, profile=args.profile, mnist_dir=configs.absolute(args.mnist_dir),
        svhn_dir=configs.absolute(args.svhn_dir), pipeline_root=args.pipeline_root,
        pipeline_name=args.pipeline_name, seed=args.seed, dcn_start=args.dcn_start,
        module_file=configs.absolute(args.module_file))
    dag = create_pipeline(config.name, config.artifacts_root, config.metadata_path,
                          config.serving_dir, config.recipe(), config.mnist_dir,
                          preset=config.preset, beam_pipeline_args=beam_args,
                          svhn_dir=config.svhn_dir, dcn_start=config.dcn_start,
                          attention=args.attention, combination=args.combination,
                          module_file=config.module_file)
    if args.orchestrator == "kubeflow_v2":
        from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as kfp_v2

        check_single_channels(dag)
        runner = kfp_v2.KubeflowV2DagRunner(
            config=kfp_v2.KubeflowV2DagRunnerConfig(default_image=args.image),
            output_dir=str(config.root), output_filename=f"{config.name}.json")
        runner.run(dag)
        print(f"Kubeflow Pipelines V2 / Vertex spec: {config.root / (config.name + '.json')}")
        return
    if args.orchestrator == "beam":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        BeamDagRunner().run(dag)
    else:
        from tfx.orchestration.local.local_dag_runner import LocalDagRunner

        LocalDagRunner().run(dag)
    print("\n".join(where_outputs_are(config.metadata_path, config.artifacts_root)))


def where_outputs_are(metadata_path: str, artifacts_root: str) -> list[str]:
    """The lines a finished run prints: where its evaluation table, TensorBoard logs and
    pushed model are, read from ML Metadata."""
    outputs = artifacts.latest_outputs(metadata_path)
    lines = []
    if "evaluation" in outputs:
        lines.append(f"Evaluation table: {outputs['evaluation']}/results.md")
    lines.append(f"TensorBoard logs of every trainer: tensorboard --logdir {artifacts_root}")
    if outputs.get("serving"):
        lines.append(f"Pushed TF Serving model: {outputs['serving']}")
    elif "serving" in outputs:
        lines.append("The DCN was not blessed, so nothing was pushed; see the evaluation table.")
    return lines


if __name__ == "__main__":
    main()
