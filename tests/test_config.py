import pytest

from dcn_keras import presets
from dcn_keras.config import DCNConfig


def test_cluttered_mnist_geometry_matches_paper(config):
    geometry = config.geometry()
    assert (geometry.map_height, geometry.map_width) == (23, 23)
    assert geometry.receptive_field == 11
    assert geometry.stride == 4
    assert geometry.patch_size == 14
    assert geometry.num_positions == 529


def test_config_round_trips_through_dict(config):
    assert DCNConfig.from_dict(config.to_dict()) == config


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ValueError, match="cluttered_mnist"):
        presets.get("imagenet")
