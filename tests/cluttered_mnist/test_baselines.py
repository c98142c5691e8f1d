import numpy as np

from dcn_keras.cluttered_mnist import baselines, networks


def test_coarse_model_is_top_on_coarse_features(config, images):
    model = baselines.coarse_model(config)
    coarse, top = model.layers[0], model.layers[1]
    expected = np.exp(top(coarse(images)).numpy())
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(model(images).numpy(), expected, rtol=1e-5)


def test_fine_model_map_is_aligned_with_coarse_map(config, images):
    """Output (i, j) of the convolutional fine layers sees exactly DCN's patch (i, j)."""
    model = baselines.fine_model(config)
    fine_map = model.layers[1](model.layers[0](images), training=False).numpy()
    assert fine_map.shape == (3, 23, 23, 24)
    patch_net = networks.fine_network(config)
    # Same weights, valid-only layers at the patch border differ through padding, so
    # compare a position whose padded neighbourhood is all zero: an empty image region.
    blank = np.zeros((1, 100, 100, 1), np.float32)
    full = model.layers[1](model.layers[0](blank), training=False).numpy()[0, 11, 11]
    patch_net.set_weights(model.layers[1].get_weights())
    single = patch_net(np.zeros((1, 14, 14, 1), np.float32), training=False).numpy()[0, 0, 0]
    np.testing.assert_allclose(full, single, rtol=1e-5, atol=1e-6)
    assert model(images).shape == (3, 10)
