import dataclasses

import pytest

from dcn_keras import presets
from dcn_keras.cluttered_mnist.config import DCNConfig


def test_cluttered_mnist_geometry_matches_paper(config):
    geometry = config.geometry()
    assert (geometry.map_height, geometry.map_width) == (23, 23)
    assert geometry.receptive_field == 11
    assert geometry.stride == 4
    assert geometry.patch_size == 14
    assert geometry.num_positions == 529


def test_config_round_trips_through_dict(config):
    assert DCNConfig.from_dict(config.to_dict()) == config
    view = dataclasses.replace(config, fine_view="fine_model")
    assert DCNConfig.from_dict(view.to_dict()) == view


def test_the_fine_models_view_reads_the_fine_layers_whole_receptive_field(config):
    assert config.fine_view == "patch" and config.fine_window == 14
    view = dataclasses.replace(config, fine_view="fine_model")
    geometry = view.geometry()
    assert view.fine_window == 24 and geometry.patch_size == 24 and geometry.offset == 6
    # Centred where the paper's patch is: the coarse map's geometry is unchanged.
    assert geometry.offset - config.geometry().offset == (24 - 14) // 2
    assert (geometry.map_height, geometry.stride) == (23, 4)
    assert {layer.padding for layer in view.valid_fine_layers if hasattr(layer, "padding")} \
        == {"valid"}
    # Model files saved before the field existed read the paper's patches.
    old = {key: value for key, value in config.to_dict().items() if key != "fine_view"}
    assert DCNConfig.from_dict(old).fine_view == "patch"
    with pytest.raises(ValueError, match="fine_view must be one of"):
        dataclasses.replace(config, fine_view="window")


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ValueError, match="cluttered_mnist"):
        presets.get("imagenet")


def test_house_numbers_coarse_layers_map_one_crop_to_one_position():
    import json

    from dcn_keras.core.layers import receptive_field
    from dcn_keras.house_numbers.config import MultiDigitConfig

    svhn = presets.house_numbers()
    assert svhn.map_size(54, 110) == (1, 1)  # "the corresponding patch size here is 54x110"
    assert (receptive_field(svhn.coarse_layers, 0)[0],
            receptive_field(svhn.coarse_layers, 1)[0]) == (53, 109)
    assert svhn.stride() == (8, 16)
    assert svhn.num_logits == 5 + 5 * 11
    assert len(svhn.coarse_layers) == 7
    assert len([layer for layer in svhn.fine_layers if hasattr(layer, "filters")]) == 11
    assert MultiDigitConfig.from_dict(json.loads(json.dumps(svhn.to_dict()))) == svhn
