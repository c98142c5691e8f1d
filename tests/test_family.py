"""Both families answer what training, export, the components and the CLI ask."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.house_numbers.model import MultiDigitModel


@pytest.mark.parametrize("preset", ["cluttered_mnist", "house_numbers"])
def test_every_family_builds_its_kinds_and_refuses_others(preset):
    family = presets.family(preset)
    assert family.name == preset and set(family.experiment_kinds) <= set(family.model_kinds)
    for kind in family.model_kinds:
        assert family.build(kind) is not None
        assert kind in family.titles
    with pytest.raises(ValueError, match="not 'medium'"):
        family.build("medium")
    metric, mode = family.monitor
    assert metric.startswith("val_") and mode in ("min", "max")


@pytest.mark.parametrize("preset", ["cluttered_mnist", "house_numbers"])
def test_every_family_composes_and_serves_its_dcn(preset):
    family = presets.family(preset)
    # Training images that a composition may fit on (multi-digit fits nothing).
    images = tf.random.uniform((4, 100, 100, 1), seed=0)
    train = tf.data.Dataset.from_tensor_slices((images, tf.zeros(4, tf.int32))).batch(2)
    dcn = family.compose(family.build("coarse"), family.build("fine"), num_patches=2,
                         train=train)
    assert dcn.num_patches == 2
    endpoints = family.serving_endpoints(dcn)
    assert set(endpoints) == {"serving_default", "serving_images"}


@pytest.mark.parametrize("preset", ["cluttered_mnist", "house_numbers"])
def test_every_family_counts_multiplications(preset):
    # On a large input DCN costs a fraction of the fine model (on a 64x128 svhn crop, whose
    # few positions all get a patch, it does not).
    counts = presets.family(preset).multiplications(None, 400, 800)
    assert counts["fine_model"]["total"] > counts["dcn"]["total"] > \
        counts["coarse_model"]["total"] > 0


def test_a_model_of_another_family_is_refused(tmp_path):
    house = presets.family("house_numbers")
    model = house.build("coarse")
    with pytest.raises(ValueError, match="preset 'house_numbers', not 'cluttered_mnist'"):
        presets.family("cluttered_mnist").check(model, tmp_path / "coarse.keras")
    with pytest.raises(ValueError, match="not a model of preset 'house_numbers'"):
        house.check(presets.family("cluttered_mnist").build("fine"), tmp_path / "fine.keras")


def test_with_config_resizes_a_family():
    family = presets.family("cluttered_mnist")
    big = family.with_config(family.config.resized(200, 200))
    model = big.build("dcn")
    assert model(np.zeros((1, 200, 200, 1), np.float32)).shape == (1, 10)


def test_a_multi_digit_model_goes_on_from_a_trained_one_of_its_kind():
    family = presets.family("house_numbers")
    trained = MultiDigitModel(family.config, "fine")
    # Trained further on other windows: the same layers under another training config.
    other = family.with_config(dataclasses.replace(family.config, cut_window_share=0.5))
    model = other.build("fine", start=trained)
    assert model.config.cut_window_share == 0.5
    for have, want in zip(model.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(have, want)
    with pytest.raises(ValueError, match="starts from a trained fine model"):
        family.build("fine", start=MultiDigitModel(family.config, "coarse"))


def test_the_old_preset_name_finds_the_family_with_a_deprecation_message():
    with pytest.warns(FutureWarning, match="'svhn' is deprecated.*'house_numbers'"):
        family = presets.family("svhn")
    assert family.name == "house_numbers"
    with pytest.warns(FutureWarning, match=r"presets.house_numbers\(\)"):
        assert presets.svhn() == presets.house_numbers()
    with pytest.warns(FutureWarning, match="'mnist_house_numbers' is deprecated"):
        assert presets.family_of_dataset("mnist_house_numbers").name == "house_numbers"
    with pytest.raises(ValueError, match="choose one of"):
        presets.family("svnh")
