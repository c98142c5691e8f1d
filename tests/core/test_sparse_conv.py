import keras
import numpy as np
import pytest

from dcn_keras.core import refine, sparse_conv


# Strides above, below and equal to the kernel, and a rectangular kernel and stride.
@pytest.mark.parametrize("kernel, stride",
                         [(4, 2), (3, 1), (3, 2), (1, 1), (5, 3), (2, 3), ((4, 3), (2, 1))])
def test_equals_dense_convolution(kernel, stride):
    conv = keras.layers.Conv2D(7, kernel, strides=stride, use_bias=False)
    conv.build((None, 23, 23, 5))
    rng = np.random.default_rng(kernel * 10 + stride)
    flat = np.stack([rng.choice(529, 9, replace=False) for _ in range(3)])
    flat[0, :4] = [0, 22, 528, 506]  # all four corners
    positions = np.stack([flat // 23, flat % 23], axis=-1).astype(np.int32)
    values = rng.normal(size=(3, 9, 5)).astype(np.float32)
    dense_input = refine.refine(np.zeros((3, 23, 23, 5), np.float32), values, positions)
    dense = conv(dense_input).numpy()
    base = rng.normal(size=dense.shape).astype(np.float32)
    sparse = sparse_conv.add_conv_of_sparse(conv, base, values, positions).numpy()
    np.testing.assert_allclose(sparse, base + dense, atol=1e-5)


def test_supports_only_plain_valid_convolutions():
    assert sparse_conv.supports(keras.layers.Conv2D(4, 3, use_bias=False))
    assert not sparse_conv.supports(keras.layers.Conv2D(4, 3))
    assert not sparse_conv.supports(keras.layers.Conv2D(4, 3, use_bias=False, padding="same"))
    assert not sparse_conv.supports(keras.layers.Dense(4))
