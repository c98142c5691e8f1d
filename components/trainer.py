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
from dcn_keras.config import MultiDigitConfig
from dcn_keras.data import sequence_inputs, tfrecords


def write_serving_model(model: keras.Model, directory: str) -> None:
    """The SavedModel for TF Serving: DCNs and multi-digit models with their signatures
    (`dcn_keras.export`), Cluttered MNIST baselines plain."""
    from dcn_keras import export
    from dcn_keras.atomic import atomic_directory
    from dcn_keras.model import DynamicCapacityNetwork
    from dcn_keras.multi_digit_dcn import MultiDigitDCN, MultiDigitModel

    if isinstance(model, (DynamicCapacityNetwork, MultiDigitDCN, MultiDigitModel)):
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
    precision: Parameter[str] = "float32",
) -> None:
    """Train `model_kind` (coarse, fine, dcn_no_hints or dcn; coarse or fine for the svhn
    preset, on random crops), keep its best validation epoch.

    Writes `model.keras` and a TF Serving SavedModel (`Format-Serving`) to `model`, and the
    per-epoch history CSV and its plot to `model_run`. Uses `tf.distribute` when several
    GPUs exist. `precision` "bfloat16" trains multi-digit models in mixed bfloat16.
    """
    config = presets.get(preset)
    keras.utils.set_random_seed(seed)
    if isinstance(config, MultiDigitConfig):
        if model_kind not in ("coarse", "fine"):
            raise ValueError(f"The {preset} preset trains coarse and fine models apart (the "
                             f"DCN is composed by DcnComposer), not {model_kind!r}.")
        train = sequence_inputs.crops(artifacts.split_pattern(examples, "train"), config,
                                      batch_size, True, seed)
        valid = sequence_inputs.crops(artifacts.split_pattern(examples, "eval"), config,
                                      batch_size, False)
        with training.distribution_strategy().scope():
            training.fit_multi_digit(config, model_kind, train, valid, epochs,
                                     artifacts.keras_path(model), learning_rate, precision,
                                     verbose=2)
        _record(model, model_run, model_kind, examples, config, "val_sequence_error", min)
        return
    train = tfrecords.dataset(artifacts.split_pattern(examples, "train"), config.image_shape,
                              batch_size, shuffle=True, seed=seed,
                              count=artifacts.split_count(examples, "train"))
    valid = tfrecords.dataset(artifacts.split_pattern(examples, "eval"), config.image_shape,
                              batch_size, count=artifacts.split_count(examples, "eval"))
    with training.distribution_strategy().scope():
        net = training.build_model(model_kind, config, num_patches, hint_weight)
        training.fit(net, train, valid, epochs, artifacts.keras_path(model), learning_rate,
                     verbose=2)
    _record(model, model_run, model_kind, examples, config, "val_accuracy", max)


def _record(model, model_run, model_kind: str, examples, config, monitor: str, best) -> None:
    """The serving SavedModel, the history and curves, and the best epoch's properties."""
    write_serving_model(training.load_model(artifacts.keras_path(model), config),
                        artifacts.serving_path(model))
    history_path = os.path.join(model.uri, artifacts.HISTORY_FILE)
    history = visualize.read_history(history_path)
    os.makedirs(model_run.uri, exist_ok=True)
    shutil.copyfile(history_path, os.path.join(model_run.uri, "history.csv"))
    visualize.plot_training_curves(
        history, os.path.join(model_run.uri, "curves.png"),
        f"{training.TITLES[model_kind]}: {examples.get_string_custom_property('description')}")
    best_epoch = best(range(len(history[monitor])), key=history[monitor].__getitem__)
    model.set_float_custom_property(monitor, history[monitor][best_epoch])
    model.set_int_custom_property("best_epoch", best_epoch + 1)
    model.set_string_custom_property("model_kind", model_kind)
