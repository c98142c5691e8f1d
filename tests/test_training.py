import collections
import csv
import dataclasses

import keras
import numpy as np
import pytest

from dcn_keras import presets, training
from dcn_keras.classifier.model import DynamicCapacityNetwork
from tests.helpers import run_model_saving_test, tensorflow_warnings


@pytest.fixture(scope="module")
def family():
    return presets.family("cluttered_mnist")


def test_builds_every_kind(family, config):
    kinds = {kind: family.build(kind) for kind in family.model_kinds}
    assert kinds["dcn_no_hints"].hint_weight == 0.0
    assert kinds["dcn"].hint_weight == config.hint_weight
    with pytest.raises(ValueError, match="coarse"):
        family.build("medium")


@pytest.mark.parametrize("native, policy", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_precision_is_bfloat16_only_where_it_is_native(family, native, policy,
                                                            monkeypatch):
    monkeypatch.setattr(training.measure, "native_bfloat16", lambda: native)
    assert training.resolve_precision("auto") == policy.removeprefix("mixed_")
    assert training.resolve_precision("float32") == "float32"
    assert training.build(family, "coarse", "auto").dtype_policy.name == policy
    with pytest.raises(ValueError, match="precision must be one of"):
        training.resolve_precision("float16")


def test_load_model_round_trip(family, tmp_path, images):
    model = family.build("fine")
    run_model_saving_test(model, (images,), tmp_path)
    loaded = training.load_model(tmp_path / f"{model.name}.keras", family)
    np.testing.assert_array_equal(loaded(images), model(images))


def test_model_from_another_preset_is_rejected(family, config, tmp_path):
    other = dataclasses.replace(config, name="other_preset")
    DynamicCapacityNetwork(other).save(tmp_path / "dcn.keras")
    with pytest.raises(ValueError, match="preset 'other_preset'.*--preset other_preset"):
        training.load_model(tmp_path / "dcn.keras", family)
    small = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    small.save(tmp_path / "small.keras")
    with pytest.raises(ValueError, match="another preset"):
        training.load_model(tmp_path / "small.keras", family)


def test_missing_or_damaged_model_file(family, tmp_path):
    with pytest.raises(FileNotFoundError, match="dcn train"):
        training.load_model(tmp_path / "none.keras", family)
    (tmp_path / "broken.keras").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="not a loadable Keras model"):
        training.load_model(tmp_path / "broken.keras", family)


def test_batch_norm_statistics_become_the_mean_of_the_batch_statistics():
    import tensorflow as tf

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, use_bias=False),
                              keras.layers.BatchNormalization(momentum=0.99)])
    rng = np.random.default_rng(0)
    batches = [rng.normal(2.0, 3.0, (8, 3)).astype(np.float32) for _ in range(4)]
    data = tf.data.Dataset.from_tensor_slices(np.concatenate(batches)).batch(8)
    training.recalibrate_batch_norm(model, data, batches=3)
    norm = model.layers[-1]
    outputs = [model.layers[0](batch).numpy() for batch in batches[:3]]
    np.testing.assert_allclose(norm.moving_mean, np.mean([o.mean(0) for o in outputs], 0),
                               rtol=1e-5)
    np.testing.assert_allclose(norm.moving_variance, np.mean([o.var(0) for o in outputs], 0),
                               rtol=1e-4)
    assert norm.momentum == 0.99
    # Every epoch of every model recalibrates with a graph of its own, traced once: a
    # process that trains several models has nothing for TensorFlow to warn about.
    with tensorflow_warnings() as warnings:
        for _ in range(6):
            training.recalibrate_batch_norm(model, data, batches=3)
    assert not [message for message in warnings if "retracing" in message]


def test_batch_norm_statistics_are_those_of_the_layers_without_dropout():
    """Inference reads the network without dropout, so the re-estimated statistics are
    those of the dropout-free inputs; dropout's rate is back afterwards."""
    import tensorflow as tf

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5),
                              keras.layers.BatchNormalization()])
    batch = np.random.default_rng(1).normal(1.0, 2.0, (64, 4)).astype(np.float32)
    training.recalibrate_batch_norm(model, tf.data.Dataset.from_tensors(batch), batches=1)
    norm = model.layers[-1]
    np.testing.assert_allclose(norm.moving_mean, batch.mean(0), rtol=1e-5)
    np.testing.assert_allclose(norm.moving_variance, batch.var(0), rtol=1e-4)
    assert model.layers[0].rate == 0.5


MIRRORED_STEP = r"""
import json, sys
import tensorflow as tf
cpu, = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from dcn_keras import presets

family = presets.family("cluttered_mnist")
image = np.random.default_rng(0).random((1, 100, 100, 1), dtype=np.float32)
# Identical examples: each replica's batch statistics equal the whole batch's, so one
# synchronous step on 2 replicas must equal one step on one device.
data = tf.data.Dataset.from_tensors((np.repeat(image, 8, 0), np.full(8, 3))).repeat(1)
keras.utils.set_random_seed(0)
weights = family.build("dcn").get_weights()
after = {}
for name, strategy in (("one", tf.distribute.get_strategy()),
                       ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))):
    with strategy.scope():
        model = family.build("dcn")
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        model.fit(data, epochs=1, verbose=0)
    after[name] = model.get_weights()
    after[name + "_replicas"] = strategy.num_replicas_in_sync
change = max(float(np.abs(a - w).max()) for a, w in zip(after["one"], weights))
gap = max(float(np.abs(a - b).max()) for a, b in zip(after["one"], after["mirrored"]))
print(json.dumps({"replicas": after["mirrored_replicas"], "change": change, "gap": gap}))
"""


@pytest.mark.slow
def test_a_mirrored_step_equals_a_single_device_step(tmp_path):
    import json
    import subprocess
    import sys

    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_STEP)
    done = subprocess.run([sys.executable, "-P", str(script)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["change"] > 1e-3  # the step did move the weights
    assert result["gap"] < 1e-4 * result["change"] + 1e-6


def test_training_writes_tensorboard_scalars_per_epoch_with_the_hint_distance(family, tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices(
        (rng.random((8, 100, 100, 1), np.float32), rng.integers(0, 10, 8))).batch(4)
    logs = tmp_path / "logs"
    training.train(family, "dcn", data, data, epochs=2, out_path=tmp_path / "dcn.keras",
                   verbose=0, log_dir=logs, num_patches=2)
    tags = collections.Counter()
    for events in logs.rglob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(events)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    assert tags["epoch_hint_distance"] == 4  # two epochs, training and validation
    assert tags["epoch_loss"] == 4 and tags["epoch_accuracy"] == 4


def test_training_keeps_every_epochs_weights_for_learning_curves(tmp_path):
    import tensorflow as tf

    from dcn_keras.house_numbers.model import MultiDigitModel

    family = presets.family("house_numbers")
    rng = np.random.default_rng(0)
    images = rng.random((4, *family.config.crop_size, 1), np.float32)
    targets = (np.full(4, 2, np.int32), np.tile([[3, 7, 10, 10, 10]], (4, 1)).astype(np.int32))
    data = tf.data.Dataset.from_tensor_slices((images, targets)).batch(2)
    epochs = tmp_path / "coarse_epochs"
    epochs.mkdir()
    (epochs / "epoch_07.weights.h5").write_bytes(b"of a run this one replaces")
    training.train(family, "coarse", data, data, epochs=2, out_path=tmp_path / "coarse.keras",
                   verbose=0, precision="bfloat16", epochs_dir=epochs)
    assert sorted(p.name for p in epochs.iterdir()) == ["epoch_01.weights.h5",
                                                        "epoch_02.weights.h5"]
    # The mixed-precision weights load into a float32 model, and the kept epochs hold the
    # saved model: the first epoch of the lowest validation error.
    with open(tmp_path / "coarse_history.csv") as stream:
        errors = [float(row["val_sequence_error"]) for row in csv.DictReader(stream)]
    best = errors.index(min(errors)) + 1
    model = MultiDigitModel(family.config, "coarse")
    model.load_weights(epochs / f"epoch_{best:02d}.weights.h5")
    trained = keras.models.load_model(tmp_path / "coarse.keras", compile=False)
    for a, b in zip(model.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert {layer.dtype_policy.name for layer in trained.network.layers} == {"float32"}


def test_a_diverged_training_stops_with_a_clear_error_and_saves_nothing(family, tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices(
        (rng.random((16, 100, 100, 1), np.float32), rng.integers(0, 10, 16))).batch(4)
    out = tmp_path / "coarse.keras"
    with pytest.raises(training.DivergenceError,
                       match=r"coarse.keras diverged: the loss was (nan|inf) at step \d+ of "
                             r"epoch 1 \(learning rate 1e\+12\)\. Nothing was saved\. .*lower "
                             r"--learning-rate"):
        training.train(family, "coarse", data, data, epochs=3, out_path=out, verbose=0,
                       learning_rate=1e12, epochs_dir=tmp_path / "coarse_epochs",
                       log_dir=tmp_path / "coarse_logs")
    # Not even the empty folders of the backup, the epochs and the logs.
    assert list(tmp_path.iterdir()) == []


def _nan_in_batch(batch: int):
    """16 canvases in batches of 4, unshuffled, the `batch`-th of which (from 1) holds a NaN
    pixel that the input pipeline refuses (InvalidArgumentError) when it reads it."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = rng.random((16, 100, 100, 1), np.float32)
    images[4 * (batch - 1), 0, 0, 0] = np.nan
    data = tf.data.Dataset.from_tensor_slices((images, rng.integers(0, 10, 16)))
    return data.map(lambda x, y: (tf.debugging.check_numerics(x, "NaN pixel"), y)).batch(4)


def test_a_failed_training_removes_the_folders_it_made_and_keeps_earlier_state(family,
                                                                               tmp_path):
    import tensorflow as tf

    def train(data, out):
        with pytest.raises(tf.errors.InvalidArgumentError, match="NaN pixel"):
            training.train(family, "coarse", data, data, epochs=2, out_path=out, verbose=0,
                           epochs_dir=out.with_name("coarse_epochs"),
                           log_dir=out.with_name("coarse_logs"))

    # Failed at its first step, before any state was saved: nothing is left.
    train(_nan_in_batch(1), tmp_path / "first" / "coarse.keras")
    assert list((tmp_path / "first").iterdir()) == []
    # Failed at step 3: the state after step 2 is kept, and so are the folders that go
    # with it; a rerun that fails before saving anything keeps them too.
    out = tmp_path / "third" / "coarse.keras"
    folders = [training.backup_dir(out), out.with_name("coarse_epochs"),
               out.with_name("coarse_logs")]
    for _ in range(2):
        train(_nan_in_batch(3), out)
        assert all(folder.is_dir() for folder in folders)
        assert training._progress(training.backup_dir(out)) == (0, 2)


def test_an_output_inside_a_file_is_refused_before_training(family, tmp_path):
    import tensorflow as tf

    from dcn_keras import atomic

    (tmp_path / "runs").write_text("a file")
    data = tf.data.Dataset.from_tensor_slices(
        (np.zeros((4, 100, 100, 1), np.float32), np.zeros(4, np.int64))).batch(4)
    with pytest.raises(atomic.PathBlockedError, match=r"runs is a file.*--out"):
        training.train(family, "coarse", data, data, epochs=1,
                       out_path=tmp_path / "runs" / "coarse.keras", verbose=0)
    assert (tmp_path / "runs").read_text() == "a file"


def test_export_refuses_a_model_whose_weights_are_not_finite(family, tmp_path):
    from dcn_keras.serving import export

    model = family.build("dcn", num_patches=2)
    weights = model.get_weights()
    weights[0] = np.full_like(weights[0], np.nan)
    model.set_weights(weights)
    with pytest.raises(ValueError, match="NaN or infinite .*its training diverged.*nothing "
                                         "was exported"):
        export.export_saved_model(model, tmp_path / "serving", family)
    assert not (tmp_path / "serving").exists() or not list((tmp_path / "serving").iterdir())
