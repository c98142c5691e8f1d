import dataclasses

import keras
import numpy as np
import pytest

from dcn_keras import training
from dcn_keras.model import DynamicCapacityNetwork


def test_builds_every_kind(config):
    kinds = {kind: training.build_model(kind, config) for kind in training.MODEL_KINDS}
    assert kinds["dcn_no_hints"].hint_weight == 0.0
    assert kinds["dcn"].hint_weight == config.hint_weight
    with pytest.raises(ValueError, match="coarse"):
        training.build_model("medium", config)


def test_load_model_round_trip(config, tmp_path, images):
    model = training.build_model("fine", config)
    model.save(tmp_path / "fine.keras")
    loaded = training.load_model(tmp_path / "fine.keras", config)
    np.testing.assert_array_equal(loaded(images), model(images))


def test_model_from_another_preset_is_rejected(config, tmp_path):
    other = dataclasses.replace(config, name="other_preset")
    DynamicCapacityNetwork(other).save(tmp_path / "dcn.keras")
    with pytest.raises(ValueError, match="preset 'other_preset'.*--preset other_preset"):
        training.load_model(tmp_path / "dcn.keras", config)
    small = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    small.save(tmp_path / "small.keras")
    with pytest.raises(ValueError, match="another preset"):
        training.load_model(tmp_path / "small.keras", config)


def test_missing_or_damaged_model_file(config, tmp_path):
    with pytest.raises(FileNotFoundError, match="dcn train"):
        training.load_model(tmp_path / "none.keras", config)
    (tmp_path / "broken.keras").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="not a loadable Keras model"):
        training.load_model(tmp_path / "broken.keras", config)
