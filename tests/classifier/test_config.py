import dataclasses

import pytest

from dcn_keras.classifier.config import DCNConfig


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
