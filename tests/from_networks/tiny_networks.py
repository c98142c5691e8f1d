"""A module file for tests: a DCN of three small networks and one baseline, for the
100 x 100 Cluttered MNIST images."""

import keras

NUM_PATCHES = 4
BASELINES = {}  # filled below, after the function it names
REFERENCE = "small_cnn"


def coarse_network(image_shape):
    """[b, 100, 100, 1] -> [b, 24, 24, 8]: stride 4, field 5."""
    return keras.Sequential([keras.Input(image_shape), keras.layers.Conv2D(8, 5, strides=4)],
                            name="coarse")


def fine_network(image_shape):
    """[n, 8, 8, 1] patches -> [n, 8]."""
    return keras.Sequential([keras.Input((8, 8, image_shape[-1])),
                             keras.layers.Conv2D(8, 3, activation="relu"),
                             keras.layers.GlobalMaxPooling2D()], name="fine")


def top_network(image_shape):
    """[b, s1, s2, 8] -> [b, 10] logits."""
    return keras.Sequential([keras.Input((None, None, 8)),
                             keras.layers.Conv2D(16, 1, use_bias=False),
                             keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(10)], name="top")


def small_cnn(image_shape):
    """[b, 100, 100, 1] -> [b, 10] logits."""
    return keras.Sequential([keras.Input(image_shape), keras.layers.Conv2D(8, 5, strides=4),
                             keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(10)], name="small_cnn")


BASELINES["small_cnn"] = small_cnn
