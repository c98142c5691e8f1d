import numpy as np
import pytest

from dcn_keras import presets
from dcn_keras.cluttered_mnist import baselines, compose


@pytest.fixture(scope="module")
def parts():
    config = presets.cluttered_mnist()
    return config, baselines.coarse_model(config), baselines.fine_model(config)


def test_composed_dcn_takes_coarse_top_and_fine_layers_unchanged(parts, images):
    config, coarse, fine = parts
    dcn = compose.compose(coarse, fine, config, num_patches=4)
    assert dcn.num_patches == 4 and dcn.hint_weight == 0.0
    # The coarse path of the composed DCN is exactly the coarse model.
    np.testing.assert_allclose(dcn.attend(images)["coarse_probabilities"], coarse(images),
                               atol=1e-5)
    for a, b in zip(dcn.fine.get_weights(), fine.get_layer("fine").get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(dcn.top.get_weights(), coarse.get_layer("top").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_models_in_the_wrong_roles_are_rejected(parts):
    config, coarse, fine = parts
    with pytest.raises(ValueError, match="no 'fine' sub-network.*--model fine"):
        compose.compose(coarse, coarse, config)
    with pytest.raises(ValueError, match="num_patches must be an integer from 1 to 529"):
        compose.compose(coarse, fine, config, num_patches=600)
