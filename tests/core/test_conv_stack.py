import keras
import numpy as np
import pytest

from dcn_keras.core.conv_stack import fold_batch_norm, stack
from dcn_keras.core.layers import Conv, MaxPool

LAYERS = (Conv(6, 3, padding="same"), MaxPool(2), Conv(5, 3, stride=2), Conv(4, 1))


def trained_stack(layers=LAYERS, seed=0):
    """A `stack` with batch normalisation whose statistics and scales are far from their
    initial values, as after training."""
    network = stack(layers, (None, None, 2), "part", dropout=lambda layer: 0.5)
    rng = np.random.default_rng(seed)
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 1, n),
                               rng.normal(0, 1, n), rng.uniform(0.1, 3, n)])
    return network


def test_folded_batch_norm_computes_what_the_trained_stack_computes_at_inference():
    trained = trained_stack()
    folded = stack(LAYERS, (None, None, 2), "part", batch_norm=False,
                   dropout=lambda layer: 0.5)
    fold_batch_norm(trained, folded)
    assert not any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in folded.layers)
    images = np.random.default_rng(1).normal(size=(3, 17, 23, 2)).astype(np.float32)
    want = trained(images, training=False)
    np.testing.assert_allclose(folded(images, training=False), want, rtol=1e-4, atol=1e-4)
    assert np.abs(want).max() > 0.1  # not a map of zeros after the ReLUs


def test_folding_into_another_stack_is_refused():
    trained = trained_stack()
    with pytest.raises(ValueError, match="not part built without batch normalisation"):
        fold_batch_norm(trained, stack(LAYERS[:2], (None, None, 2), "part",
                                       batch_norm=False))
    with pytest.raises(ValueError, match="without batch normalisation"):
        fold_batch_norm(trained, trained_stack(seed=1))
