import dataclasses

import numpy as np

from dcn_keras.classifier import networks
from dcn_keras.cluttered_mnist import baselines


def test_coarse_model_is_top_on_coarse_features(config, images):
    model = baselines.coarse_model(config)
    coarse, top = model.layers[0], model.layers[1]
    expected = np.exp(top(coarse(images)).numpy())
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(model(images).numpy(), expected, rtol=1e-5)


def test_fine_model_map_is_aligned_with_coarse_map(config, images):
    """Output (i, j) of the convolutional fine layers is centred on DCN's patch (i, j); it
    sees the fine layers' whole 24 x 24 receptive field, which the "fine_model" view cuts."""
    model = baselines.fine_model(config)
    fine_map = model.layers[1](model.layers[0](images), training=False).numpy()
    assert fine_map.shape == (3, 23, 23, 24)
    assert model(images).shape == (3, 10)
    weights = model.layers[1].get_weights()
    # The "fine_model" view: equal wherever the window lies inside the image (its padding
    # runs only at the image border).
    view = dataclasses.replace(config, fine_view="fine_model")
    window_net = networks.fine_network(view)
    window_net.set_weights(weights)
    geometry = view.geometry()
    assert (geometry.patch_size, geometry.offset) == (24, 6)
    positions = [(2, 2), (7, 15), (20, 20), (11, 3)]
    windows = np.stack([images[0, 4 * i - 6:4 * i + 18, 4 * j - 6:4 * j + 18]
                        for i, j in positions])
    np.testing.assert_allclose(window_net(windows, training=False).numpy()[:, 0, 0],
                               np.stack([fine_map[0, i, j] for i, j in positions]),
                               rtol=1e-4, atol=1e-5)
    # The paper's 14 x 14 patch: its zero-padded edges differ from the image's pixels, so
    # it agrees only on an empty image region.
    patch_net = networks.fine_network(config)
    patch_net.set_weights(weights)
    blank = np.zeros((1, 100, 100, 1), np.float32)
    full = model.layers[1](model.layers[0](blank), training=False).numpy()[0, 11, 11]
    single = patch_net(np.zeros((1, 14, 14, 1), np.float32), training=False).numpy()[0, 0, 0]
    np.testing.assert_allclose(full, single, rtol=1e-5, atol=1e-6)
    patches = np.stack([images[0, 4 * i - 1:4 * i + 13, 4 * j - 1:4 * j + 13]
                        for i, j in positions])
    assert not np.allclose(patch_net(patches, training=False).numpy()[:, 0, 0],
                           np.stack([fine_map[0, i, j] for i, j in positions]), atol=1e-3)
