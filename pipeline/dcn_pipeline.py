"""The DCN experiments as TFX pipelines, one per preset.

cluttered_mnist: ClutteredMnistExampleGen (Beam) -> coarse, fine and DCN trainers ->
DcnComposer (a DCN from the coarse and fine models trained apart) -> DcnEvaluator (table,
curves, patches, blessing) -> Pusher (the blessed DCN as a versioned TF Serving SavedModel).

svhn (`--preset svhn`, the paper's transfer setting): HouseNumbersExampleGen (Beam; SVHN
archives with `--svhn-dir`, else the MNIST house numbers benchmark) -> coarse and fine
trainers on random crops -> DcnComposer (multi-digit DCN, k patches, scales) ->
MultiDigitEvaluator (Table 2, times on the largest images, patches, blessing) -> Pusher.

Run it directly (extra arguments go to Beam, e.g. `--direct_num_workers=2
--direct_running_mode=multi_processing` or `--runner=FlinkRunner ...`):

    python pipeline/dcn_pipeline.py --profile quick --mnist-dir ../shared/data/mnist

or through the TFX CLI, which takes no flags (use DCN_PROFILE, DCN_MNIST_DIR,
DCN_PIPELINE_ROOT, DCN_PIPELINE_NAME, DCN_PRESET, DCN_SVHN_DIR):

    tfx pipeline create --engine local --pipeline_path "$PWD/pipeline/dcn_pipeline.py"
    tfx run create --engine local --pipeline_name dcn-cluttered-mnist-quick
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib

from tfx.components.pusher.component import Pusher
from tfx.orchestration import metadata, pipeline
from tfx.proto import pusher_pb2

from components import artifacts
from components.cluttered_mnist_gen import ClutteredMnistExampleGen
from components.composer import DcnComposer
from components.evaluator import DcnEvaluator, MultiDigitEvaluator
from components.house_numbers_gen import HouseNumbersExampleGen
from components.trainer import DcnTrainer

REPO = pathlib.Path(__file__).resolve().parents[1]
# The multi-digit training recipe (see README: the paper's SGD without batch normalisation
# did not learn digit identities here in thousands of steps).
SVHN_LEARNING_RATE = 1e-3
SVHN_EPOCHS = 5


@dataclasses.dataclass(frozen=True)
class Profile:
    """Data sizes and training settings of one pipeline run."""
    train_images: int
    eval_images: int
    test_images: int
    epochs: int
    num_shards: int
    max_error_gap: float  # DCN is blessed when its test error <= fine's + this
    batch_size: int = 64
    learning_rate: float = 1e-3
    num_patches: int = 8
    hint_weight: float = 0.1
    dcn_epochs: int | None = None  # default: `epochs`
    precision: str = "float32"  # multi-digit training: "bfloat16" for mixed precision
    scales: str = ""  # multi-digit DCN scales, e.g. "1,0.75,0.5" ("" = the preset's)
    largest: int = 100  # multi-digit timings on this many of the largest test images


# {preset: {profile name: Profile}}.
PROFILES = {
    "cluttered_mnist": {
        # The settings of the recorded `dcn experiment` run (README): about 40 minutes on
        # 2 cores.
        "paper": Profile(28000, 1000, 2000, epochs=12, num_shards=4, max_error_gap=0.01),
        # Minutes on a 2-core CPU: the main README command. Fewer training steps leave batch
        # normalisation's moving averages unsettled and validation error near chance.
        # A DCN training step costs about a quarter of the fine model's (docs/BENCHMARKS.md),
        # so 10 DCN epochs still cost less than the fine model's 4.
        "quick": Profile(12000, 1000, 1000, epochs=4, num_shards=2, max_error_gap=0.02,
                         dcn_epochs=10),
        # CI's end-to-end check of the wiring: seconds of training, meaningless errors.
        "smoke": Profile(96, 32, 64, epochs=1, num_shards=2, max_error_gap=1.0, batch_size=32),
    },
    "svhn": {
        # The recorded `dcn house-numbers` run on MNIST house numbers (README); with
        # --svhn-dir, 0 means every SVHN image.
        "paper": Profile(30000, 1000, 500, epochs=SVHN_EPOCHS, num_shards=4,
                         max_error_gap=0.01, batch_size=32, learning_rate=SVHN_LEARNING_RATE,
                         num_patches=6, precision="bfloat16", scales="1,0.75,0.5"),
        # Minutes on a 2-core CPU: the wiring with a little training.
        "quick": Profile(3000, 200, 60, epochs=1, num_shards=2, max_error_gap=1.0,
                         batch_size=32, learning_rate=SVHN_LEARNING_RATE, num_patches=6,
                         precision="bfloat16", largest=20),
        "smoke": Profile(64, 32, 6, epochs=1, num_shards=2, max_error_gap=1.0, batch_size=16,
                         learning_rate=SVHN_LEARNING_RATE, num_patches=2, largest=2),
    },
}


def create_pipeline(pipeline_name: str, pipeline_root: str, metadata_path: str,
                    serving_dir: str, profile: Profile, mnist_dir: str = "",
                    preset: str = "cluttered_mnist", seed: int = 0,
                    beam_pipeline_args: list[str] | None = None,
                    enable_cache: bool = True, svhn_dir: str = "") -> pipeline.Pipeline:
    """The DCN pipeline for `preset` with the sizes and settings of `profile`.

    Args:
      pipeline_root: where artifacts go. metadata_path: the SQLite ML Metadata file.
      serving_dir: TF Serving model base path the Pusher writes versions to.
      mnist_dir: MNIST IDX directory ("" = tfds).
      svhn_dir: for preset svhn, SVHN format-1 archives or folders (train, test, optional
        extra); "" builds the MNIST house numbers benchmark from MNIST instead.
    """
    if preset not in PROFILES:
        raise ValueError(f"The pipeline supports presets {sorted(PROFILES)}, got {preset!r}.")
    if preset == "svhn":
        components = _svhn_components(profile, mnist_dir, svhn_dir, seed, serving_dir)
    else:
        components = _cluttered_mnist_components(profile, mnist_dir, seed, serving_dir)
    return pipeline.Pipeline(
        pipeline_name=pipeline_name, pipeline_root=pipeline_root, components=components,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(metadata_path),
        beam_pipeline_args=beam_pipeline_args or [], enable_cache=enable_cache)


def _pusher(model, blessing, serving_dir: str) -> Pusher:
    return Pusher(model=model, model_blessing=blessing,
                  push_destination=pusher_pb2.PushDestination(
                      filesystem=pusher_pb2.PushDestination.Filesystem(
                          base_directory=serving_dir)))


def _cluttered_mnist_components(profile: Profile, mnist_dir: str, seed: int,
                                serving_dir: str) -> list:
    preset = "cluttered_mnist"
    example_gen = ClutteredMnistExampleGen(
        mnist_dir=mnist_dir, train_images=profile.train_images,
        eval_images=profile.eval_images, test_images=profile.test_images, seed=seed,
        num_shards=profile.num_shards)
    training = dict(examples=example_gen.outputs["examples"], preset=preset,
                    batch_size=profile.batch_size, learning_rate=profile.learning_rate,
                    seed=seed)
    # The baselines get no DCN parameters, so changing k or the hint weight keeps them cached.
    coarse = DcnTrainer(model_kind="coarse", epochs=profile.epochs,
                        **training).with_id("CoarseTrainer")
    fine = DcnTrainer(model_kind="fine", epochs=profile.epochs,
                      **training).with_id("FineTrainer")
    dcn = DcnTrainer(model_kind="dcn", epochs=profile.dcn_epochs or profile.epochs,
                     num_patches=profile.num_patches, hint_weight=profile.hint_weight,
                     **training).with_id("DcnTrainer")
    composer = DcnComposer(coarse_model=coarse.outputs["model"],
                           fine_model=fine.outputs["model"], preset=preset,
                           num_patches=profile.num_patches)
    evaluator = DcnEvaluator(
        examples=example_gen.outputs["examples"], coarse_model=coarse.outputs["model"],
        fine_model=fine.outputs["model"], dcn_model=dcn.outputs["model"],
        composed_model=composer.outputs["model"], preset=preset,
        batch_size=profile.batch_size, max_error_gap=profile.max_error_gap)
    pusher = _pusher(dcn.outputs["model"], evaluator.outputs["blessing"], serving_dir)
    return [example_gen, coarse, fine, dcn, composer, evaluator, pusher]


def _svhn_components(profile: Profile, mnist_dir: str, svhn_dir: str, seed: int,
                     serving_dir: str) -> list:
    """The transfer setting: coarse and fine trained apart on crops, composed at test time."""
    preset = "svhn"
    example_gen = HouseNumbersExampleGen(
        mnist_dir=mnist_dir, svhn_dir=svhn_dir, train_images=profile.train_images,
        eval_images=profile.eval_images, test_images=profile.test_images, seed=seed,
        num_shards=profile.num_shards)
    training = dict(examples=example_gen.outputs["examples"], preset=preset,
                    epochs=profile.epochs, batch_size=profile.batch_size,
                    learning_rate=profile.learning_rate, seed=seed,
                    precision=profile.precision)
    coarse = DcnTrainer(model_kind="coarse", **training).with_id("CoarseTrainer")
    fine = DcnTrainer(model_kind="fine", **training).with_id("FineTrainer")
    composer = DcnComposer(coarse_model=coarse.outputs["model"],
                           fine_model=fine.outputs["model"], preset=preset,
                           num_patches=profile.num_patches, scales=profile.scales)
    evaluator = MultiDigitEvaluator(
        examples=example_gen.outputs["examples"], model=composer.outputs["model"],
        preset=preset, max_error_gap=profile.max_error_gap, largest=profile.largest)
    pusher = _pusher(composer.outputs["model"], evaluator.outputs["blessing"], serving_dir)
    return [example_gen, coarse, fine, composer, evaluator, pusher]


def parse_args(argv=None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default=os.environ.get("DCN_PRESET", "cluttered_mnist"),
                        choices=sorted(PROFILES))
    parser.add_argument("--profile", default=os.environ.get("DCN_PROFILE", "quick"),
                        choices=("paper", "quick", "smoke"))
    parser.add_argument("--mnist-dir", default=os.environ.get("DCN_MNIST_DIR", ""),
                        help="directory of MNIST IDX files (default $DCN_MNIST_DIR, else tfds)")
    parser.add_argument("--svhn-dir", default=os.environ.get("DCN_SVHN_DIR", ""),
                        help="svhn preset: folder with SVHN format-1 train and test (.tar.gz "
                             "or extracted; optional extra); default: MNIST house numbers")
    parser.add_argument("--pipeline-root",
                        default=os.environ.get("DCN_PIPELINE_ROOT", str(REPO / "runs/pipeline")),
                        help="artifacts, ML Metadata (metadata.sqlite) and serving/ go here")
    parser.add_argument("--pipeline-name", default=os.environ.get("DCN_PIPELINE_NAME"),
                        help="default dcn-<preset>-<profile> with hyphens (Kubeflow forbids "
                             "\"_\")")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runner", default="local", choices=("local", "beam", "kubeflow_v2"),
                        help="kubeflow_v2 writes the KFP V2 / Vertex pipeline JSON instead")
    parser.add_argument("--image", default="gcr.io/your-project/dcn-keras:latest",
                        help="container image for --runner kubeflow_v2")
    return parser.parse_known_args(argv)


def main(argv=None) -> None:
    args, beam_args = parse_args(argv)
    root = pathlib.Path(args.pipeline_root).resolve()
    name = args.pipeline_name or f"dcn-{args.preset}-{args.profile}".replace("_", "-")
    metadata_path = str(root / "metadata.sqlite")

    def absolute(path):
        return str(pathlib.Path(path).resolve()) if path else ""

    dag = create_pipeline(name, str(root / name), metadata_path, str(root / "serving" / name),
                          PROFILES[args.preset][args.profile], absolute(args.mnist_dir),
                          preset=args.preset, seed=args.seed, beam_pipeline_args=beam_args,
                          svhn_dir=absolute(args.svhn_dir))
    if args.runner == "kubeflow_v2":
        from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as kfp_v2

        runner = kfp_v2.KubeflowV2DagRunner(
            config=kfp_v2.KubeflowV2DagRunnerConfig(default_image=args.image),
            output_dir=str(root), output_filename=f"{name}.json")
        runner.run(dag)
        print(f"Kubeflow Pipelines V2 / Vertex spec: {root / (name + '.json')}")
        return
    if args.runner == "beam":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        BeamDagRunner().run(dag)
    else:
        from tfx.orchestration.local.local_dag_runner import LocalDagRunner

        LocalDagRunner().run(dag)
    outputs = artifacts.latest_outputs(metadata_path)
    if "evaluation" in outputs:
        print(f"Evaluation table: {outputs['evaluation']}/results.md")
    if outputs.get("serving"):
        print(f"Pushed TF Serving model: {outputs['serving']}")
    elif "serving" in outputs:
        print("The DCN was not blessed, so nothing was pushed; see the evaluation table.")


if __name__ == "__main__":
    main()
