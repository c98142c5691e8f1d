"""DcnTrainer: trains one model (coarse, fine, DCN) on an Examples artifact."""

# No `from __future__ import annotations`: TFX reads these annotations at runtime.
import os
import shutil

import keras
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples, Model, ModelRun

from components import artifacts
from dcn_keras import presets, training, visualize
from dcn_keras.data import tfrecords


def write_serving_model(model: keras.Model, directory: str) -> None:
    """The SavedModel for TF Serving: DCN with its attention signatures, baselines plain."""
    from dcn_keras import export
    from dcn_keras.atomic import atomic_directory
    from dcn_keras.model import DynamicCapacityNetwork

    if isinstance(model, DynamicCapacityNetwork):
        export.write_saved_model(model, directory)
        return
    with atomic_directory(directory) as tmp:
        model.export(str(tmp), format="tf_saved_model", verbose=False)


@component
def DcnTrainer(
    examples: InputArtifact[Examples],
    model: OutputArtifact[Model],
    model_run: OutputArtifact[ModelRun],
    model_kind: Parameter[str],
    preset: Parameter[str] = "cluttered_mnist",
    epochs: Parameter[int] = 12,
    batch_size: Parameter[int] = 64,
    learning_rate: Parameter[float] = 1e-3,
    num_patches: Parameter[int] = 8,
    hint_weight: Parameter[float] = 0.1,
    seed: Parameter[int] = 0,
) -> None:
    """Train `model_kind` (coarse, fine, dcn_no_hints or dcn), keep its best validation epoch.

    Writes `model.keras` and a TF Serving SavedModel (`Format-Serving`) to `model`, and the
    per-epoch history CSV and its plot to `model_run`. Uses `tf.distribute` when several
    GPUs exist.
    """
    config = presets.get(preset)
    keras.utils.set_random_seed(seed)
    train = tfrecords.dataset(artifacts.split_pattern(examples, "train"), config.image_shape,
                              batch_size, shuffle=True, seed=seed,
                              count=artifacts.split_count(examples, "train"))
    valid = tfrecords.dataset(artifacts.split_pattern(examples, "eval"), config.image_shape,
                              batch_size, count=artifacts.split_count(examples, "eval"))
    with training.distribution_strategy().scope():
        net = training.build_model(model_kind, config, num_patches, hint_weight)
        training.fit(net, train, valid, epochs, artifacts.keras_path(model), learning_rate,
                     verbose=2)
    best = training.load_model(artifacts.keras_path(model), config)
    write_serving_model(best, artifacts.serving_path(model))
    history_path = os.path.join(model.uri, artifacts.HISTORY_FILE)
    history = visualize.read_history(history_path)
    os.makedirs(model_run.uri, exist_ok=True)
    shutil.copyfile(history_path, os.path.join(model_run.uri, "history.csv"))
    visualize.plot_training_curves(
        history, os.path.join(model_run.uri, "curves.png"),
        f"{training.TITLES[model_kind]}: {examples.get_string_custom_property('description')}")
    best_epoch = max(range(len(history["val_accuracy"])), key=history["val_accuracy"].__getitem__)
    model.set_float_custom_property("val_accuracy", history["val_accuracy"][best_epoch])
    model.set_int_custom_property("best_epoch", best_epoch + 1)
    model.set_string_custom_property("model_kind", model_kind)
