"""Building, compiling, training and loading the four Cluttered MNIST models."""

from __future__ import annotations

import os
import pathlib

import keras
import tensorflow as tf

from dcn_keras import baselines
from dcn_keras.atomic import atomic_path
from dcn_keras.config import DCNConfig, MultiDigitConfig
from dcn_keras.model import DynamicCapacityNetwork
from dcn_keras.multi_digit_dcn import MultiDigitDCN, MultiDigitModel

MODEL_KINDS = ("coarse", "fine", "dcn_no_hints", "dcn")
TITLES = {"coarse": "Coarse model", "fine": "Fine model",
          "dcn_no_hints": "DCN w/o hints", "dcn": "DCN with hints",
          "composed": "DCN composed at test time"}


def build_model(kind: str, config: DCNConfig, num_patches: int | None = None,
                hint_weight: float | None = None) -> keras.Model:
    """A fresh model of `kind` (one of MODEL_KINDS) for the preset."""
    if kind == "coarse":
        return baselines.coarse_model(config)
    if kind == "fine":
        return baselines.fine_model(config)
    if kind == "dcn_no_hints":
        return DynamicCapacityNetwork(config, num_patches, hint_weight=0.0, name="dcn_no_hints")
    if kind == "dcn":
        return DynamicCapacityNetwork(config, num_patches, hint_weight, name="dcn")
    raise ValueError(f"Unknown model kind {kind!r}; choose one of {MODEL_KINDS}.")


def distribution_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over every GPU when there are several, else the default strategy.

    Build, compile and fit the model inside its `scope()`.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    return tf.distribute.get_strategy()


def compile_model(model: keras.Model, learning_rate: float, total_steps: int) -> None:
    """Adam with a cosine learning-rate decay over the whole run; for multi-digit models
    Adam with the exponential decay (to a tenth) of the paper's appendix 6.2, whose SGD
    with momentum learned far slower here (README, "SVHN")."""
    if isinstance(model, MultiDigitModel):
        schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate,
                                                               max(1, total_steps), 0.1)
        model.compile(optimizer=keras.optimizers.Adam(schedule))
        return
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, total_steps))
    optimizer = keras.optimizers.Adam(schedule)
    if isinstance(model, DynamicCapacityNetwork):
        model.compile(optimizer=optimizer)  # its train_step holds the DCN objective
    else:
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def fit(model: keras.Model, train, valid, epochs: int, out_path: str | os.PathLike,
        learning_rate: float = 1e-3, verbose: int | str = "auto") -> keras.callbacks.History:
    """Train, keep the epoch with the best validation accuracy (sequence error for
    multi-digit models), save it atomically.

    Writes `out_path` (.keras) and `<stem>_history.csv` beside it.
    """
    out_path = pathlib.Path(out_path)
    compile_model(model, learning_rate, epochs * int(train.cardinality()))
    monitor, mode = (("val_sequence_error", "min") if isinstance(model, MultiDigitModel)
                     else ("val_accuracy", "max"))
    with atomic_path(out_path) as best, atomic_path(
            out_path.with_name(out_path.stem + "_history.csv")) as history_csv:
        callbacks = [
            keras.callbacks.ModelCheckpoint(str(best), monitor=monitor, mode=mode,
                                            save_best_only=True),
            keras.callbacks.CSVLogger(str(history_csv)),
        ]
        # The training dataset shuffles itself (tfrecords.dataset(shuffle=True)).
        history = model.fit(train, validation_data=valid, epochs=epochs, callbacks=callbacks,
                            verbose=verbose, shuffle=False)
    return history


def fit_multi_digit(config: MultiDigitConfig, part: str, train, valid, epochs: int,
                    out_path: str | os.PathLike, learning_rate: float,
                    precision: str = "float32", verbose: int | str = "auto") -> None:
    """Train a fresh coarse or fine `MultiDigitModel` with `fit` and save it in float32.

    `precision="bfloat16"` trains with Keras' mixed_bfloat16 policy (float32 weights,
    bfloat16 activations), 1.33x faster for the fine model on a CPU with AVX512-BF16;
    the saved model is a float32 copy of the best weights, so inference is unchanged.
    """
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be 'float32' or 'bfloat16', got {precision!r}.")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        model = MultiDigitModel(config, part)
    finally:
        keras.config.set_dtype_policy(previous)
    fit(model, train, valid, epochs, out_path, learning_rate, verbose=verbose)
    if precision == "bfloat16":
        trained = keras.models.load_model(out_path, compile=False)
        copy = MultiDigitModel(config, part)
        copy.set_weights(trained.get_weights())
        with atomic_path(out_path) as path:
            copy.save(path)


def load_model(path: str | os.PathLike, config: DCNConfig) -> keras.Model:
    """Load a `.keras` model and check it was made for `config`'s preset."""
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No model at {path}. Train one first with `dcn train`.")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a damaged archive
        raise ValueError(f"{path} is not a loadable Keras model ({type(error).__name__}: "
                         f"{error}). Retrain it with `dcn train`.") from error
    if isinstance(model, (DynamicCapacityNetwork, MultiDigitModel, MultiDigitDCN)):
        if model.config.name != config.name:
            raise ValueError(f"{path} holds a DCN for preset {model.config.name!r}, not "
                             f"{config.name!r}. Pass --preset {model.config.name} or a model "
                             f"trained for {config.name}.")
        return model
    if tuple(model.input_shape[1:]) != config.image_shape or \
            model.output_shape[-1] != config.num_classes:
        raise ValueError(
            f"{path} takes {list(model.input_shape[1:])} inputs and gives "
            f"{model.output_shape[-1]} classes, but preset {config.name!r} needs "
            f"{list(config.image_shape)} and {config.num_classes}. It was trained for another "
            "preset: pass the matching --preset or retrain it.")
    return model
