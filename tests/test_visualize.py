import json

import matplotlib.image
import numpy as np
import tensorflow as tf

from dcn_keras import visualize
from dcn_keras.house_numbers import sequences


def _drawn(path) -> np.ndarray:
    image = matplotlib.image.imread(path)
    assert image[..., :3].std() > 0.05  # not blank
    assert not list(path.parent.glob(".*"))  # written atomically, no temporary left
    return image


def test_sequence_patches_take_tensors_and_draw_one_row_per_image(tmp_path):
    examples = [{"image": np.random.default_rng(i).random((60 + 20 * i, 150, 1), np.float32),
                 "digits": np.array([4, 2, 10, 10, 10]), "length": 2} for i in range(2)]
    boxes = [tf.constant([[[0, 0, 54, 110], [6, 30, 60, 140]]], tf.int32)] * 2
    # A reading decoded from the model's probabilities, as the report does it.
    length = tf.one_hot([1], 5)
    digits = tf.one_hot([[4, 2, 10, 10, 10]], 11)
    readings = sequences.readings(length, digits) * 2
    assert readings == ["42", "42"]
    path = tmp_path / "patches.png"
    visualize.plot_sequence_patches(examples, boxes, readings, path)
    height, width = _drawn(path).shape[:2]
    assert height > width / 2  # two rows of images, one above the other


def test_patches_take_what_attend_returns_as_it_returns_it(tmp_path):
    import keras

    from dcn_keras import presets
    from dcn_keras.classifier.model import DynamicCapacityNetwork

    keras.utils.set_random_seed(0)
    model = DynamicCapacityNetwork(presets.cluttered_mnist())
    images = tf.random.uniform((2, 100, 100, 1))
    path = tmp_path / "patches.png"
    visualize.plot_patches(images, model.attend(images), None, path)  # tensors, no labels
    _drawn(path)


def test_benchmark_plots_from_the_json_that_dcn_bench_writes(tmp_path):
    ks = (1, 2, 4, 8, 16)
    timings = {f"{name}{suffix}": {"median_ms": ms * (2 if suffix else 1)}
               for suffix in ("", "_xla")
               for name, ms in (("coarse", 4.0), ("fine", 66.0),
                                *((f"dcn_k{k}", 10.0 + k) for k in ks))}
    errors = {"coarse": 0.034, "fine": 0.0135, "dcn": {k: 0.05 / k for k in ks}}
    # JSON turns the k keys into strings; the plot reads either.
    result = json.loads(json.dumps({"inference": timings, "test_error": errors,
                                    "batch_size": 64, "preset": "cluttered_mnist",
                                    "device": "CPU"}))
    path = tmp_path / "bench.png"
    visualize.plot_benchmark(result, path)
    height, width = _drawn(path).shape[:2]
    assert width > 1.5 * height  # time and test error side by side
