"""The pipeline graph, one per preset (the TFX templates' `pipeline.py`).

cluttered_mnist: ClutteredMnistExampleGen (Beam) -> coarse and fine trainers -> DCN trainer
(the paper's DCN, trained end to end with hints from the coarse and fine models' layers) and
DcnComposer (an extension: a DCN composed at test time from the two models, with a fitted
bridge) -> DcnEvaluator (table, curves, patches, blessing) -> Pusher (the blessed DCN as a
versioned TF Serving SavedModel). `dcn_start="composed"` trains the DCN from the composed one
instead, bridge kept (an extension).

house_numbers (the paper's transfer setting): HouseNumbersExampleGen (Beam; SVHN archives with
`svhn_dir`, else the MNIST house numbers benchmark) -> coarse and fine trainers on random
crops -> DcnComposer (house-numbers DCN, k patches, scales) -> HouseNumbersEvaluator (Table 2,
times on the largest images, patches, blessing) -> Pusher.

megapixel_mnist, and any preset's data with a `module_file` of the user's networks
(`dcn_keras.from_networks.module_file`): the example generator -> one trainer per model
(the DCN built from the networks, trained end to end with hints, and each baseline) ->
NetworksEvaluator (test errors, batch-1 times, patches; blesses the DCN against the
reference baseline) -> Pusher.
"""

from __future__ import annotations

from tfx.components.pusher.component import Pusher
from tfx.orchestration import metadata, pipeline
from tfx.proto import pusher_pb2
from tfx.types import channel

from components.cluttered_mnist_gen import ClutteredMnistExampleGen
from components.composer import DcnComposer
from components.evaluator import DcnEvaluator, HouseNumbersEvaluator, NetworksEvaluator
from components.house_numbers_gen import HouseNumbersExampleGen
from components.megapixel_mnist_gen import MegapixelMnistExampleGen
from components.trainer import DcnTrainer
from dcn_keras import presets
from dcn_keras.from_networks import module_file as module_file_lib
from dcn_keras.recipe import Recipe

# Where the pipeline's DCN trainer starts: the coarse and fine models' layers (the paper's
# DCN), or the DcnComposer's DCN, bridge kept (an extension).
DCN_STARTS = ("coarse_and_fine", "composed")


def create_pipeline(pipeline_name: str, pipeline_root: str, metadata_path: str,
                    serving_dir: str, recipe: Recipe, mnist_dir: str = "",
                    preset: str = "cluttered_mnist",
                    beam_pipeline_args: list[str] | None = None,
                    enable_cache: bool = True, svhn_dir: str = "",
                    dcn_start: str = "coarse_and_fine", attention: str = "",
                    combination: str = "", module_file: str = "") -> pipeline.Pipeline:
    """The DCN pipeline for `preset` with the sizes and settings of `recipe`.

    Args:
      pipeline_root: where artifacts go. metadata_path: the SQLite ML Metadata file.
      serving_dir: TF Serving model base path the Pusher writes versions to.
      recipe: a profile of the preset's recipes (`presets.family(preset).recipe(profile)`).
      mnist_dir: MNIST IDX directory ("" = tfds).
      svhn_dir: for preset house_numbers, SVHN format-1 archives or folders (train, test, optional
        extra); "" builds the MNIST house numbers benchmark from MNIST instead.
      dcn_start: cluttered_mnist, where the DCN trainer starts (`DCN_STARTS`).
      attention, combination: house_numbers, how the pushed DCN picks and combines patches
        (`dcn_keras.house_numbers.dcn.ATTENTION`, `COMBINATION`; "": the preset's). The
        paper's are "entropy_gradient" and "inverse_entropy".
      module_file: a .py file of the user's coarse, fine and top networks (and baselines),
        trained on the preset's data instead of the preset's models (absolute path).
    """
    graphs = {"cluttered_mnist": _cluttered_mnist_components,
              "house_numbers": _house_numbers_components,
              "megapixel_mnist": _networks_components}
    if preset not in graphs:
        raise ValueError(f"The pipeline supports presets {sorted(graphs)}, got {preset!r}.")
    if dcn_start not in DCN_STARTS:
        raise ValueError(f"dcn_start must be one of {DCN_STARTS}, got {dcn_start!r}.")
    if (attention or combination) and preset != "house_numbers":
        raise ValueError("attention and combination choose how the house_numbers DCN reads; "
                         f"preset {preset!r} has no such setting.")
    methods = {"attention": attention, "combination": combination}
    if module_file:
        components = _networks_components(recipe, mnist_dir, svhn_dir, serving_dir,
                                          dcn_start, methods, preset, module_file)
    else:
        components = graphs[preset](recipe, mnist_dir, svhn_dir, serving_dir, dcn_start,
                                    methods)
    return pipeline.Pipeline(
        pipeline_name=pipeline_name, pipeline_root=pipeline_root, components=components,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(metadata_path),
        beam_pipeline_args=beam_pipeline_args or [], enable_cache=enable_cache)


def _pusher(model, blessing, serving_dir: str) -> Pusher:
    return Pusher(model=model, model_blessing=blessing,
                  push_destination=pusher_pb2.PushDestination(
                      filesystem=pusher_pb2.PushDestination.Filesystem(
                          base_directory=serving_dir)))


def _sizes(recipe: Recipe) -> dict:
    return dict(train_images=recipe.train_images, eval_images=recipe.valid_images,
                test_images=recipe.test_images, seed=recipe.seed,
                num_shards=recipe.num_shards)


def _trainer(kind: str, examples, preset: str, recipe: Recipe, epochs: int,
             **dcn_settings) -> DcnTrainer:
    # Settings left to the preset (None) are not passed.
    dcn_settings = {name: value for name, value in dcn_settings.items() if value is not None}
    name = "".join(part.title() for part in kind.split("_"))
    return DcnTrainer(examples=examples, model_kind=kind, preset=preset, epochs=epochs,
                      batch_size=recipe.batch_size, learning_rate=recipe.learning_rate,
                      seed=recipe.seed, precision=recipe.precision,
                      batch_norm_images=recipe.batch_norm_images,
                      **dcn_settings).with_id(f"{name}Trainer")


def _cluttered_mnist_components(recipe: Recipe, mnist_dir: str, svhn_dir: str,
                                serving_dir: str, dcn_start: str, methods: dict) -> list:
    preset = "cluttered_mnist"
    if svhn_dir:
        raise ValueError("svhn_dir is for the house_numbers preset.")
    example_gen = ClutteredMnistExampleGen(mnist_dir=mnist_dir, **_sizes(recipe))
    examples = example_gen.outputs["examples"]
    # The baselines get no DCN parameters, so changing k or the hint weight keeps them cached.
    coarse = _trainer("coarse", examples, preset, recipe, recipe.epochs)
    fine = _trainer("fine", examples, preset, recipe, recipe.epochs)
    num_patches = recipe.num_patches or dcn_default_patches(preset)
    composer = DcnComposer(examples=examples, coarse_model=coarse.outputs["model"],
                           fine_model=fine.outputs["model"], preset=preset,
                           num_patches=num_patches)
    # TFX's warm start: from the two models' layers, or from the composed DCN (its
    # `base_model`); docs/pipeline.md.
    start = {"base_model": composer.outputs["model"]} if dcn_start == "composed" else \
        {"coarse_model": coarse.outputs["model"], "fine_model": fine.outputs["model"]}
    dcn = _trainer("dcn", examples, preset, recipe, recipe.dcn_epochs or recipe.epochs,
                   num_patches=recipe.num_patches, hint_weight=recipe.hint_weight, **start)
    evaluator = DcnEvaluator(
        examples=examples, coarse_model=coarse.outputs["model"],
        fine_model=fine.outputs["model"], dcn_model=dcn.outputs["model"],
        composed_model=composer.outputs["model"], preset=preset,
        batch_size=recipe.batch_size, max_error_gap=recipe.max_error_gap)
    pusher = _pusher(dcn.outputs["model"], evaluator.outputs["blessing"], serving_dir)
    return [example_gen, coarse, fine, composer, dcn, evaluator, pusher]


def _house_numbers_components(recipe: Recipe, mnist_dir: str, svhn_dir: str,
                              serving_dir: str, dcn_start: str, methods: dict) -> list:
    """The transfer setting: coarse and fine trained apart on crops, composed at test time
    (no DCN trainer, so `dcn_start` does not apply) with the attention and combination of
    `methods` ("": the preset's)."""
    preset = "house_numbers"
    example_gen = HouseNumbersExampleGen(mnist_dir=mnist_dir, svhn_dir=svhn_dir,
                                         **_sizes(recipe))
    examples = example_gen.outputs["examples"]
    coarse = _trainer("coarse", examples, preset, recipe, recipe.epochs)
    fine = _trainer("fine", examples, preset, recipe, recipe.epochs)
    composer = DcnComposer(examples=examples, coarse_model=coarse.outputs["model"],
                           fine_model=fine.outputs["model"], preset=preset,
                           num_patches=recipe.num_patches or dcn_default_patches(preset),
                           scales=",".join(map(str, recipe.scales)), **methods)
    evaluator = HouseNumbersEvaluator(
        examples=examples, model=composer.outputs["model"], preset=preset,
        max_error_gap=recipe.max_error_gap, largest=recipe.largest,
        all_patches_images=recipe.all_patches_images)
    pusher = _pusher(composer.outputs["model"], evaluator.outputs["blessing"], serving_dir)
    return [example_gen, coarse, fine, composer, evaluator, pusher]


def _networks_components(recipe: Recipe, mnist_dir: str, svhn_dir: str, serving_dir: str,
                         dcn_start: str, methods: dict, preset: str = "megapixel_mnist",
                         module_file: str = "") -> list:
    """Models built from networks (the Megapixel MNIST preset's, or a module file's on the
    preset's data), each trained end to end from fresh weights, so `dcn_start` does not
    apply."""
    if svhn_dir:
        raise ValueError("svhn_dir is for the house_numbers preset.")
    family = presets.family(preset, module_file)
    if not family.reference_kind:
        raise ValueError(f"Module file {module_file} defines no BASELINES: the pipeline "
                         "blesses the DCN against a baseline, so define at least one "
                         "(docs/own_networks.md).")
    module = {"module_file": module_file,
              "module_sha256": module_file and module_file_lib.digest(module_file)}
    gens = {"cluttered_mnist": ClutteredMnistExampleGen,
            "megapixel_mnist": MegapixelMnistExampleGen}
    example_gen = gens[preset](mnist_dir=mnist_dir, **_sizes(recipe))
    examples = example_gen.outputs["examples"]
    trainers = {kind: _trainer(kind, examples, preset, recipe,
                               (recipe.dcn_epochs or recipe.epochs)
                               if kind in family.dcn_kinds else recipe.epochs,
                               **module, **({"num_patches": recipe.num_patches,
                                             "hint_weight": recipe.hint_weight}
                                            if kind in family.dcn_kinds else {}))
                for kind in family.model_kinds}
    others = [kind for kind in family.model_kinds
              if kind not in (*family.dcn_kinds, family.reference_kind)]
    evaluator = NetworksEvaluator(
        examples=examples, dcn_model=trainers["dcn"].outputs["model"],
        reference_model=trainers[family.reference_kind].outputs["model"],
        **({"baseline_models": _one_channel([trainers[kind].outputs["model"]
                                             for kind in others])} if others else {}),
        preset=preset, batch_size=recipe.batch_size, max_error_gap=recipe.max_error_gap,
        **module)
    pusher = _pusher(trainers["dcn"].outputs["model"], evaluator.outputs["blessing"],
                     serving_dir)
    return [example_gen, *trainers.values(), evaluator, pusher]


def _one_channel(channels: list):
    """The channel, or the union of several (which Kubeflow V2 cannot compile:
    `check_single_channels`)."""
    return channels[0] if len(channels) == 1 else channel.union(channels)


def check_single_channels(dag: pipeline.Pipeline) -> None:
    """Refuse, naming the component and the fix, a graph whose inputs join several
    channels in one: Kubeflow V2 and Vertex take one channel per input."""
    for component in dag.components:
        for key, value in component.inputs.items():
            if isinstance(value, channel.UnionChannel):
                raise ValueError(
                    f"{component.id} reads {len(value.channels)} models as {key}, which "
                    "Kubeflow V2 and Vertex cannot compile (one channel per input): give the "
                    "module file at most two BASELINES (its REFERENCE and one other), or run "
                    "the pipeline with --orchestrator local or beam.")


def dcn_default_patches(preset: str) -> int:
    """k of the preset, for a recipe that leaves it to the preset."""
    return presets.get(preset).num_patches
