import keras
import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.classifier import networks
from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.core import refine
from dcn_keras.serving import export

L = keras.layers


def _coarse(size=64, channels=3, features=16):
    return keras.Sequential([keras.Input((size, size, channels)),
                             L.Conv2D(8, 5, strides=2, padding="same", activation="relu"),
                             L.Conv2D(features, 3, strides=2, padding="same", activation="relu")],
                            name="my_coarse")


def _fine(patch=16, channels=3, features=16):
    images = keras.Input((patch, patch, channels))
    x = L.Conv2D(16, 3, activation="relu")(images)
    x = L.Conv2D(features, 3, strides=2, activation="relu")(x)
    return keras.Model(images, L.GlobalAveragePooling2D()(x), name="my_fine")


def _top(features=16, classes=5, first=None):
    return keras.Sequential([keras.Input((None, None, features)),
                             first or L.Conv2D(32, 3, use_bias=False),
                             L.ReLU(), L.GlobalMaxPooling2D(), L.Dense(classes)], name="my_top")


def _images(count=3, size=64, channels=3, seed=0):
    return np.random.default_rng(seed).random((count, size, size, channels), dtype=np.float32)


def test_a_dcn_around_your_own_networks_derives_its_geometry():
    dcn = DynamicCapacityNetwork.from_networks(_coarse(), _fine(), _top(), num_patches=4)
    geometry = dcn.geometry
    # 5x5/2 then 3x3/2, both "same" on 64 and 32 pixels (TensorFlow pads 1 before, then
    # 0): a 16x16 map, stride 4, fields of 5 + 2 * 2 = 9 pixels starting 1 pixel before
    # i * 4; 16x16 patches (the fine network's input) centred on them.
    assert (geometry.map_height, geometry.map_width, geometry.stride) == (16, 16, 4)
    assert (geometry.receptive_field, geometry.patch_size) == (9, 16)
    assert geometry.offset == (16 - 9) // 2 + 1
    assert (dcn.image_shape, dcn.feature_dim, dcn.num_classes) == ((64, 64, 3), 16, 5)
    seen = dcn.attend(_images())
    assert seen["probabilities"].shape == (3, 5) and seen["positions"].shape == (3, 4, 2)
    assert seen["saliency"].shape == (3, 16, 16)
    np.testing.assert_allclose(seen["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("first, sparse", [
    (None, True),  # bias-free valid convolution: the sparse refined pass
    (L.Conv2D(32, 3, padding="same"), False),  # anything else: the top on the whole map
])
def test_refined_pass_equals_the_top_on_the_refined_map(first, sparse):
    dcn = DynamicCapacityNetwork.from_networks(_coarse(), _fine(), _top(first=first),
                                               num_patches=5)
    assert (dcn._top_conv is not None) == sparse
    images = tf.constant(_images())
    seen = dcn.attend(images)
    coarse = dcn.coarse_features(images)
    fine = dcn.fine_vectors(dcn.cut_patches(images, seen["positions"]))
    dense = dcn.top(refine.refine(coarse, fine, seen["positions"]))
    np.testing.assert_allclose(seen["probabilities"], tf.nn.softmax(dense), atol=1e-5)


def test_it_trains_with_hints_saves_and_loads(tmp_path):
    keras.utils.set_random_seed(0)
    dcn = DynamicCapacityNetwork.from_networks(_coarse(), _fine(), _top(), num_patches=3,
                                               hint_weight=0.1)
    dcn.compile(optimizer="adam")
    before = [w.copy() for w in dcn.coarse.get_weights()]
    history = dcn.fit(_images(8), np.arange(8) % 5, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["hint_distance"][0])
    assert not np.allclose(before[0], dcn.coarse.get_weights()[0])
    path = tmp_path / "mine.keras"
    dcn.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, DynamicCapacityNetwork) and loaded.config is None
    assert loaded.geometry == dcn.geometry and loaded.hint_weight == 0.1
    np.testing.assert_allclose(loaded(_images()), dcn(_images()), atol=1e-6)


def test_a_keras_applications_backbone_as_the_fine_network(tmp_path):
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), include_top=False, weights=None, pooling="avg",
        include_preprocessing=False)  # DCN images are in [0, 1]
    features = backbone.output_shape[-1]
    dcn = DynamicCapacityNetwork.from_networks(
        _coarse(96, features=features), backbone, _top(features), num_patches=2)
    assert dcn.geometry.patch_size == 32  # the backbone's input size
    images = _images(2, 96)
    seen = dcn.attend(images)
    assert seen["probabilities"].shape == (2, 5) and seen["boxes"].shape == (2, 2, 4)
    boxes = seen["boxes"].numpy()
    assert (boxes[..., 2] - boxes[..., 0] == 32).all()
    dcn.save(tmp_path / "mobilenet.keras")
    loaded = keras.models.load_model(tmp_path / "mobilenet.keras")
    np.testing.assert_allclose(loaded(images), dcn(images), atol=1e-5)
    served = export.write_saved_model(dcn, tmp_path / "serving" / "1",
                                      presets.family("cluttered_mnist"))
    signature = tf.saved_model.load(str(served)).signatures["serving_images"]
    out = signature(images=tf.constant(images))
    np.testing.assert_allclose(out["probabilities"], seen["probabilities"], atol=1e-5)
    assert out["positions"].shape == (2, 2, 2)


def test_the_paper_preset_is_a_dcn_of_its_three_networks():
    config = presets.cluttered_mnist()
    preset = DynamicCapacityNetwork(config)
    assert preset.geometry == config.geometry()
    built = DynamicCapacityNetwork.from_networks(
        networks.coarse_network(config), networks.fine_network(config),
        networks.top_network(config), num_patches=8, hint_weight=0.1)
    assert built.geometry == preset.geometry
    built.set_weights(preset.get_weights())
    images = _images(2, 100, 1)
    np.testing.assert_allclose(built(images), preset(images), atol=1e-6)


@pytest.mark.parametrize("parts, message", [
    (lambda: (_coarse(), keras.Sequential([keras.Input((16, 16, 3)), L.Conv2D(16, 3)]),
              _top()), r"shape \(2, 14, 14, 16\), not one vector of 16.*pooling='avg'"),
    (lambda: (_coarse(), _fine(features=8), _top()), r"not one vector of 16.*Dense\(16\)"),
    (lambda: (_coarse(), _fine(), keras.Sequential(
        [keras.Input((None, None, 16)), L.GlobalMaxPooling2D(),
         L.Dense(5, activation="softmax", name="probs")])), r"softmax.*'probs'.*logits"),
    (lambda: (keras.Sequential([keras.Input((64, 64, 3)), L.Conv2D(16, 3),
                                L.Resizing(8, 8, name="shrink")]), _fine(), _top()),
     r"'shrink'.*top network"),
    (lambda: (_coarse(), _fine(), _top(features=12)), r"top network 'my_top' cannot take"),
    (lambda: (_coarse(), _fine(channels=1), _top()), r"\[n, P, P, 3\] patches"),
])
def test_networks_that_do_not_fit_together_are_refused_with_the_fix(parts, message):
    with pytest.raises(ValueError, match=message):
        DynamicCapacityNetwork.from_networks(*parts())


def test_a_patch_size_the_fine_network_does_not_take_is_refused():
    with pytest.raises(ValueError, match="patch_size is 20.*16x16 inputs"):
        DynamicCapacityNetwork.from_networks(_coarse(), _fine(), _top(), patch_size=20)


def test_a_fine_network_of_any_size_reads_patches_of_the_receptive_field():
    images = keras.Input((None, None, 3))
    fine = keras.Model(images, L.GlobalAveragePooling2D()(L.Conv2D(16, 3)(images)))
    dcn = DynamicCapacityNetwork.from_networks(_coarse(), fine, _top())
    assert dcn.geometry.patch_size == dcn.geometry.receptive_field == 9
    boxes = dcn.attend(_images())["boxes"].numpy()
    assert (boxes[..., 2:] - boxes[..., :2] == 9).all()
