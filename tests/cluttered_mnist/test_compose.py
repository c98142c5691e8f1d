import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.cluttered_mnist import baselines, compose
from dcn_keras.core import refine, saliency
from tests.helpers import run_model_saving_test


@pytest.fixture(scope="module")
def parts():
    import keras

    # Seeded: how far distillation can move the bridge depends on the random weights (a
    # KL ratio of 0.04-0.66 over seeds 0-3 against the 0.5 bound below).
    keras.utils.set_random_seed(0)
    config = presets.cluttered_mnist()
    rng = np.random.default_rng(0)
    images = rng.random((6, 100, 100, 1), dtype=np.float32)
    train = tf.data.Dataset.from_tensor_slices((images, np.zeros(6, np.int32))).batch(3)
    coarse, fine = baselines.coarse_model(config), baselines.fine_model(config)
    return config, coarse, fine, train, compose.fit_bridge(coarse, fine, train)


def test_composed_dcn_reads_the_bridged_coarse_map_with_the_fine_model_top(parts, images):
    config, coarse, fine, _, bridge = parts
    dcn = compose.compose(coarse, fine, config, bridge, num_patches=4)
    assert dcn.num_patches == 4 and dcn.hint_weight == 0.0 and dcn.bridge == 3
    for target, source in ((dcn.coarse, coarse.get_layer("coarse")),
                           (dcn.fine, fine.get_layer("fine")), (dcn.top, fine.get_layer("top"))):
        for a, b in zip(target.get_weights(), source.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    # The map the top reads where no patch went is the fitted linear map of the coarse map.
    coarse_map = coarse.get_layer("coarse")(images, training=False)
    expected = tf.nn.conv2d(coarse_map, bridge.kernel, 1, "SAME") + bridge.bias
    np.testing.assert_allclose(dcn.coarse_features(images), expected, atol=1e-4)
    # Saliency is the fine top's entropy gradient on that map.
    np.testing.assert_allclose(dcn.attend(images)["saliency"],
                               saliency.entropy_saliency(dcn.top, expected), atol=1e-5)


def test_composed_without_a_bridge_reads_the_coarse_map_as_it_is(parts, images):
    config, coarse, fine, _, _ = parts
    dcn = compose.compose(coarse, fine, config, None, num_patches=8)
    assert dcn.bridge == 0 and dcn.bridge_network is None
    np.testing.assert_array_equal(dcn.coarse_features(images),
                                  coarse.get_layer("coarse")(images, training=False))
    for a, b in zip(dcn.top.get_weights(), fine.get_layer("top").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_composed_refined_map_holds_the_fine_models_vectors_at_the_selected_positions(
        parts, images):
    config, coarse, fine, _, bridge = parts
    dcn = compose.compose(coarse, fine, config, bridge, num_patches=5)
    assert dcn.config.fine_view == "fine_model" and dcn.geometry.patch_size == 24
    # Positions whose 24 x 24 window lies inside the image, where the fine model's dense
    # pass computes the same vector (at the border its same-padded inner layers see zeros
    # that the window's valid convolutions do not).
    positions = tf.constant([[[2, 2], [5, 9], [11, 11], [20, 17], [14, 20]]] * 3, tf.int32)
    expected = refine.gather_vectors(compose.fine_map(fine)(images), positions)
    bridged = dcn.coarse_features(images)
    refined = refine.refine(bridged, dcn.fine_vectors(dcn.cut_patches(images, positions)),
                            positions)
    np.testing.assert_allclose(refine.gather_vectors(refined, positions), expected,
                               rtol=1e-4, atol=1e-5)
    kept = 1 - tf.scatter_nd(refine.scatter_indices(positions), tf.ones((3, 5)), (3, 23, 23))
    np.testing.assert_allclose(refined * kept[..., None], bridged * kept[..., None])
    # The composed prediction is the fine model's top on the refined map of its own picks.
    picked = dcn.attend(images)["positions"]
    refined = refine.refine(bridged, dcn.fine_vectors(dcn.cut_patches(images, picked)), picked)
    np.testing.assert_allclose(dcn(images), tf.nn.softmax(dcn.top(refined, training=False)),
                               atol=1e-5)


def test_a_start_for_end_to_end_training_can_read_the_papers_patches(parts, images):
    config, coarse, fine, _, _ = parts
    dcn = compose.compose(coarse, fine, config, None, num_patches=5, fine_view="patch")
    assert dcn.geometry.patch_size == 14
    positions = dcn.attend(images)["positions"]
    cut = dcn.cut_patches(images, positions)
    expected = tf.reshape(fine.get_layer("fine")(tf.reshape(cut, [-1, 14, 14, 1])), [3, 5, -1])
    np.testing.assert_allclose(dcn.fine_vectors(cut), expected, atol=1e-5)


def test_composed_dcn_saves_and_loads_with_its_bridge(parts, images, tmp_path):
    config, coarse, fine, _, bridge = parts
    dcn = compose.compose(coarse, fine, config, bridge, num_patches=3)
    loaded = run_model_saving_test(dcn, (images,), tmp_path, atol=1e-6)
    np.testing.assert_array_equal(loaded.bridge_network.get_weights()[0], bridge.kernel)
    assert loaded.config.fine_view == "fine_model"


def test_the_bridge_fit_is_reported_on_held_out_images(parts, tmp_path):
    config, coarse, fine, train, bridge = parts
    dcn = compose.compose(coarse, fine, config, bridge, num_patches=2)
    assert compose.bridge_r2(dcn, fine, train) == pytest.approx(bridge.r2, abs=1e-3)
    out = compose.report(dcn, coarse, fine, train, train, tmp_path)["result"]
    assert out["bridge_window"] == 3 and out["bridge_r2_valid"] == pytest.approx(bridge.r2,
                                                                                 abs=1e-3)
    assert set(out["valid_error_versus_patches"]) == {1, 2, 4, 8, 12, 16, 24, 32}
    assert out["multiplications_relative_to_fine"][32] > out["multiplications_relative_to_fine"][1]
    for name in ("results.json", "results.md", "error_vs_patches.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_models_in_the_wrong_roles_are_rejected(parts):
    config, coarse, fine, train, bridge = parts
    with pytest.raises(ValueError, match="no 'fine' sub-network.*--model fine"):
        compose.compose(coarse, coarse, config, bridge)
    with pytest.raises(ValueError, match="no 'pad' sub-network.*--model fine"):
        compose.fit_bridge(coarse, coarse, train)
    with pytest.raises(ValueError, match="num_patches must be an integer from 1 to 529"):
        compose.compose(coarse, fine, config, bridge, num_patches=600)
    with pytest.raises(ValueError, match="fits its bridge on training images"):
        presets.family("cluttered_mnist").compose(coarse, fine)


def test_a_dcn_fine_tuned_end_to_end_starts_from_the_composed_model(parts, images, tmp_path):
    from dcn_keras import training

    config, coarse, fine, train, bridge = parts
    family = presets.family("cluttered_mnist")
    composed = compose.compose(coarse, fine, config, bridge, num_patches=4)
    dcn = family.build("dcn", num_patches=4, start=composed)
    assert dcn.name == "dcn" and dcn.bridge == 3 and dcn.hint_weight == config.hint_weight
    # The composed weights, read through the paper's cheaper patches, which the end-to-end
    # training adapts the fine layers to.
    assert dcn.config == config
    for a, b in zip(dcn.get_weights(), composed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    paper = compose.compose(coarse, fine, config, bridge, num_patches=4, fine_view="patch")
    np.testing.assert_allclose(dcn(images), paper(images), atol=1e-6)
    with pytest.raises(ValueError, match="Only DCN kinds"):
        family.build("fine", start=composed)
    with pytest.raises(ValueError, match="starts from a composed DCN"):
        family.build("dcn", start=coarse)
    out = tmp_path / "tuned.keras"
    training.train(family, "dcn", train, train, epochs=1, out_path=out, verbose=0,
                   start=composed, num_patches=4)
    tuned = training.load_model(out, family)
    assert tuned.bridge == 3
    changed = [not np.array_equal(a, b) for a, b in zip(tuned.get_weights(),
                                                         composed.get_weights(), strict=True)]
    assert any(changed)


def test_distilling_the_bridge_brings_the_composed_dcn_closer_to_the_fine_model(parts):
    import keras

    from dcn_keras.core import distillation

    config, coarse, fine, train, bridge = parts
    # A fine model with less uniform predictions than an untrained one, whose
    # vectors, and so whose bridge, are the fixture's.
    fine = keras.models.clone_model(fine)
    fine.set_weights(parts[2].get_weights())
    logits = fine.get_layer("top").get_layer("top_logits")
    logits.set_weights([logits.get_weights()[0] * 10, logits.get_weights()[1]])
    dcn = compose.compose(coarse, fine, config, bridge, num_patches=4)
    frozen = [w.copy() for part in (dcn.coarse, dcn.fine, dcn.top) for w in part.get_weights()]
    batch = np.concatenate([batch for batch, _ in train])

    def kl():
        return float(distillation.distillation_loss(fine(batch), dcn.top(
            dcn.coarse_features(batch), training=False), 1.0))

    before = kl()
    keras.utils.set_random_seed(0)
    compose.distill_bridge(dcn, fine, train, epochs=30)
    assert kl() < 0.5 * before
    after = [w for part in (dcn.coarse, dcn.fine, dcn.top) for w in part.get_weights()]
    for a, b in zip(after, frozen, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(dcn.bridge_network.get_weights()[0], bridge.kernel)
    with pytest.raises(ValueError, match="needs a composed DCN with a bridge"):
        compose.distill_bridge(compose.compose(coarse, fine, config, None), fine, train, 1)


def test_the_family_composes_with_a_distilled_bridge_and_the_fine_models_view(parts, images):
    config, coarse, fine, train, bridge = parts
    dcn = presets.family("cluttered_mnist").compose(coarse, fine, 4, train=train)
    assert dcn.config.fine_view == "fine_model" and dcn.num_patches == 4
    # The least-squares bridge was the start; distillation moved it.
    assert not np.array_equal(dcn.bridge_network.get_weights()[0], bridge.kernel)
    for a, b in zip(dcn.fine.get_weights(), fine.get_layer("fine").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert dcn(images).shape == (3, 10)
