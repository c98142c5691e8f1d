import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.classifier import networks
from dcn_keras.core import geometry
from dcn_keras.core.block_average import BlockAverage
from dcn_keras.core.layers import receptive_field
from dcn_keras.house_numbers.networks import part_network

L = keras.layers


def _sequential(size, *layers):
    return keras.Sequential([keras.Input((size, size, 1)), *layers])


def _residual(size):
    images = keras.Input((size, size, 1))
    x = L.Conv2D(4, 3, strides=2, padding="same")(images)
    branch = L.Conv2D(4, 3, padding="same")(L.Conv2D(4, 3, padding="same")(x))
    x = L.Add()([x, branch])
    x = L.BatchNormalization()(x)
    return keras.Model(images, L.AveragePooling2D(2)(x))


STACKS = {
    "valid strided": lambda n: _sequential(n, L.Conv2D(3, 7, strides=2), L.Conv2D(3, 3, strides=2)),
    "same strided": lambda n: _sequential(n, L.Conv2D(3, 5, strides=2, padding="same"),
                                          L.Conv2D(3, 3, strides=2, padding="same")),
    "pooling": lambda n: _sequential(n, L.Conv2D(3, 3, padding="same"), L.AveragePooling2D(2),
                                     L.Conv2D(3, 3), L.AveragePooling2D(3, strides=2)),
    "dilated, depthwise, separable": lambda n: _sequential(
        n, L.Conv2D(3, 3, dilation_rate=2), L.DepthwiseConv2D(3, strides=2, padding="same"),
        L.SeparableConv2D(3, 3)),
    "padding and cropping": lambda n: _sequential(
        n, L.ZeroPadding2D(3), L.Conv2D(3, 5, strides=2), L.Cropping2D(1), L.Conv2D(3, 3)),
    "nested, residual": lambda n: _sequential(n, L.Rescaling(2.0), _residual(n)),
    "per-position layers": lambda n: _sequential(
        n, L.Conv2D(3, 3, strides=2), L.LayerNormalization(), L.Dense(5), L.Dropout(0.1)),
}


def _empirical(network, size, row, col):
    """Rows and columns of the input pixels that output position (row, col) depends on."""
    images = tf.Variable(tf.zeros((1, size, size, 1)))
    with tf.GradientTape() as tape:
        out = network(images + 1.0)
        value = tf.reduce_sum(out[0, row, col])
    grad = np.abs(tape.gradient(value, images).numpy()[0, :, :, 0]) > 0
    rows, cols = np.nonzero(grad.any(1))[0], np.nonzero(grad.any(0))[0]
    return (rows.min(), rows.max() + 1), (cols.min(), cols.max() + 1)


@pytest.mark.parametrize("name", STACKS)
def test_derived_fields_are_where_each_position_looks(name):
    """The derived field of interior and border positions equals the pixels their output
    depends on (its gradient, linear layers, weights all positive), clipped to the image."""
    keras.utils.set_random_seed(0)
    size = 40
    network = STACKS[name](size)
    for layer in network.layers:  # positive weights: no cancellation in the gradient
        layer.set_weights([np.abs(w) + 0.1 for w in layer.get_weights()])
    height, width = geometry.network_fields(network)
    assert (height.size, width.size) == tuple(network.output_shape[1:3])
    assert height == width
    for row, col in [(0, 0), (height.size // 2, width.size // 3),
                     (height.size - 1, width.size - 1)]:
        expected = [(max(0, i * f.stride + f.start),
                     min(size, i * f.stride + f.start + f.receptive_field))
                    for i, f in ((row, height), (col, width))]
        assert list(_empirical(network, size, row, col)) == expected, (row, col)


def test_derived_geometry_of_the_cluttered_mnist_preset_is_its_hand_written_geometry():
    for view in ("patch", "fine_model"):
        config = dataclasses.replace(presets.cluttered_mnist(), fine_view=view)
        for size in [(100, 100), (200, 150), (23, 23)]:
            resized = config.resized(*size)
            fields = geometry.network_fields(networks.coarse_network(resized))
            assert geometry.patch_geometry(*fields, resized.fine_window, size) == \
                resized.geometry()


def test_derived_fields_of_the_house_numbers_preset_are_its_hand_written_grid():
    config = presets.house_numbers()
    crop = config.crop_size
    for size in [crop, (200, 450)]:
        height, width = geometry.network_fields(part_network(config, "coarse", *size))
        assert (height.stride, width.stride) == config.stride()
        assert (height.start, width.start) == config.grid().offset == (0, 0)
        assert (height.receptive_field, width.receptive_field) == tuple(
            receptive_field(config.coarse_layers, axis)[0] for axis in (0, 1))
        assert (height.size, width.size) == config.map_size(*size)
    # A training crop is one position; its last row and column fall between strides.
    assert config.map_size(*crop) == (1, 1)


@pytest.mark.parametrize("layer, named", [
    (L.GlobalAveragePooling2D(name="squeeze"), "squeeze"),
    (L.Resizing(10, 10, name="shrink"), "shrink"),
    (L.Flatten(name="flat"), "flat"),
    (L.UpSampling2D(name="up"), "up"),
])
def test_layers_without_a_local_field_are_named_with_the_fix(layer, named):
    network = _sequential(32, L.Conv2D(3, 3), layer)
    with pytest.raises(ValueError, match=rf"{named}.*top network|{named}.*\[batch, s1, s2"):
        geometry.network_fields(network)


def test_a_coarse_network_needs_a_fixed_input_size():
    network = keras.Sequential([keras.Input((None, None, 1)), L.Conv2D(3, 3)])
    with pytest.raises(ValueError, match=r"fixed size.*keras.Input\(shape=\(H, W, C\)\)"):
        geometry.network_fields(network)


def test_unequal_steps_along_the_axes_are_refused_for_square_patches():
    fields = geometry.network_fields(_sequential(32, L.Conv2D(3, (3, 5), strides=(1, 2))))
    with pytest.raises(ValueError, match="square"):
        geometry.patch_geometry(*fields, 8, (32, 32))


def test_block_average_is_average_pooling_and_has_its_field():
    images = np.random.default_rng(0).random((2, 30, 27, 3), dtype=np.float32)
    np.testing.assert_allclose(BlockAverage(4)(images), L.AveragePooling2D(4)(images),
                               rtol=1e-6)
    network = _sequential(40, BlockAverage(4), L.Conv2D(3, 3))
    assert geometry.network_fields(network) == geometry.network_fields(
        _sequential(40, L.AveragePooling2D(4), L.Conv2D(3, 3)))
