import pytest

from dcn_keras import presets


def test_cluttered_mnist_geometry_matches_paper(config):
    geometry = config.geometry()
    assert (geometry.map_height, geometry.map_width) == (23, 23)
    assert geometry.receptive_field == 11
    assert geometry.stride == 4
    assert geometry.patch_size == 14
    assert geometry.num_positions == 529


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
