"""DcnTrainer: trains one model (coarse, fine, DCN) on an Examples artifact."""

# No `from __future__ import annotations`: TFX reads these annotations at runtime.
import os
import shutil

import keras
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples, Model, ModelRun

from components import artifacts
from dcn_keras import distribute, training, visualize
from dcn_keras.serving import export


def write_serving_model(model: keras.Model, directory: str, family) -> None:
    """The SavedModel for TF Serving, with the family's signatures (`dcn_keras.serving`)."""
    export.write_saved_model(model, directory, family)


@component
def DcnTrainer(
    examples: InputArtifact[Examples],
    model: OutputArtifact[Model],
    model_run: OutputArtifact[ModelRun],
    model_kind: Parameter[str],
    preset: Parameter[str],
    epochs: Parameter[int],
    batch_size: Parameter[int],
    learning_rate: Parameter[float],
    seed: Parameter[int],
    precision: Parameter[str],
    batch_norm_images: Parameter[int],
    module_file: Parameter[str] = "",
    module_sha256: Parameter[str] = "",
    num_patches: Parameter[int] = None,
    hint_weight: Parameter[float] = None,
    base_model: InputArtifact[Model] = None,
    coarse_model: InputArtifact[Model] = None,
    fine_model: InputArtifact[Model] = None,
) -> None:
    """Train `model_kind` (coarse, fine, dcn_no_hints or dcn; coarse or fine for the svhn
    preset, on random crops), keep its best validation epoch. The pipeline passes the
    settings of the preset's recipe (`dcn_keras/<family>/config.py`); `num_patches` and
    `hint_weight` (None: the preset's) set DCN kinds only.

    Writes `model.keras` and a TF Serving SavedModel (`Format-Serving`) to `model`, and the
    per-epoch history CSV, its plot, TensorBoard logs and every epoch's weights
    (`epochs/epoch_NN.weights.h5`, for test-error curves) to `model_run`. A trainer killed
    mid-run resumes from its last backup (at most an eighth of an epoch back) when the
    pipeline is rerun (the state lies in `artifacts.resume_dir`, which the rerun's new
    artifact finds). Trains under
    `dcn_keras.distribute.strategy()`: every worker of a `TF_CONFIG` cluster (a Vertex AI or
    Kubeflow TFJob worker pool) runs this component, the chief writes the artifacts
    (docs/distributed.md). `precision` "bfloat16" trains in mixed bfloat16, "auto" where
    the machine that runs it computes bfloat16 natively;
    `batch_norm_images` > 0 re-estimates batch normalisation statistics before each
    validation. A DCN kind with `coarse_model` and `fine_model` (the coarse and fine
    trainers' models) starts from their layers (`family.warm_start`: the paper's DCN, no
    bridge); with a `base_model` instead (the DcnComposer's composed DCN, as TFX's Trainer
    warm-starts from its `base_model`) it fine-tunes that DCN, bridge kept (an extension).
    Without either it starts from fresh weights. With a `module_file` (TFX's convention for
    user code), the models are that file's networks on the preset's data
    (`dcn_keras.from_networks.module_file`); `module_sha256` is its digest when the
    pipeline was built, so that an edited file retrains rather than hitting the cache.
    """
    distribute.strategy()  # before any TensorFlow op: a TF_CONFIG cluster needs it first
    family = artifacts.family(preset, module_file, module_sha256).for_data(examples.uri)
    keras.utils.set_random_seed(seed)
    family.check_kind(model_kind)
    train, valid = family.datasets(
        artifacts.split_pattern(examples, "train"), artifacts.split_pattern(examples, "eval"),
        batch_size, seed, (artifacts.split_count(examples, "train"),
                           artifacts.split_count(examples, "eval")), model_kind)
    recipe = family.recipe(epochs=epochs, dcn_epochs=epochs, learning_rate=learning_rate,
                           precision=precision, num_patches=num_patches,
                           hint_weight=hint_weight, batch_norm_images=batch_norm_images)
    start = None if base_model is None else \
        training.load_model(artifacts.keras_path(base_model), family)
    if coarse_model is not None and fine_model is not None:
        start = family.warm_start(
            training.load_model(artifacts.keras_path(coarse_model), family),
            training.load_model(artifacts.keras_path(fine_model), family), num_patches)
    options = family.train_options(model_kind, recipe)
    # What shapes training, and only that: a recipe change that concerns evaluation (such
    # as the all-patches images) must not throw away a killed run's epochs.
    settings = {**options, "config": family.config.to_dict(), "examples": examples.uri,
                "base_model": base_model and base_model.uri,
                "warm_start": [part.uri for part in (coarse_model, fine_model) if part],
                "model_kind": model_kind,
                "preset": preset, "seed": seed, "batch_size": batch_size,
                "module_sha256": module_sha256}
    backup = artifacts.resume_dir(model, settings)
    # Beside the resume state, not in `model_run`: a rerun after a kill gets a new
    # `model_run` and must still find the epochs the killed run kept.
    epochs_dir = backup + ".epochs"
    print(f"TensorBoard logs: {model_run.uri}; state of unfinished epochs: {backup}",
          flush=True)
    training.train(family, model_kind, train, valid, out_path=artifacts.keras_path(model),
                   verbose=2, start=start, backup=backup, log_dir=model_run.uri,
                   epochs_dir=epochs_dir, **options)
    if distribute.is_chief():
        os.makedirs(model_run.uri, exist_ok=True)
        shutil.move(epochs_dir, os.path.join(model_run.uri, artifacts.EPOCHS_DIR))
        _record(model, model_run, model_kind, examples, family)


def _record(model, model_run, model_kind: str, examples, family) -> None:
    """The serving SavedModel, the history and curves, and the best epoch's properties."""
    write_serving_model(training.load_model(artifacts.keras_path(model), family),
                        artifacts.serving_path(model), family)
    history_path = os.path.join(model.uri, artifacts.HISTORY_FILE)
    history = visualize.read_history(history_path)
    os.makedirs(model_run.uri, exist_ok=True)
    shutil.copyfile(history_path, os.path.join(model_run.uri, "history.csv"))
    visualize.plot_training_curves(
        history, os.path.join(model_run.uri, "curves.png"),
        f"{family.titles[model_kind]}: {examples.get_string_custom_property('description')}")
    monitor, mode = family.monitor
    best = min if mode == "min" else max
    best_epoch = best(range(len(history[monitor])), key=history[monitor].__getitem__)
    model.set_float_custom_property(monitor, history[monitor][best_epoch])
    model.set_int_custom_property("best_epoch", best_epoch + 1)
    model.set_string_custom_property("model_kind", model_kind)
