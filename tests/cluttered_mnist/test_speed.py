import json

import pytest

from dcn_keras_cli import cli
from tests.helpers import tensorflow_warnings

KS = ["1", "2", "4", "8", "16"]


def _check_fields(result, batch_size):
    assert result["batch_size"] == batch_size
    assert result["device"] == "CPU" or result["device"].startswith("GPU")
    timings = result["inference"]
    names = {"coarse", "fine", *(f"dcn_k{k}" for k in KS)}
    assert set(timings) == names | {name + "_xla" for name in names}
    for entry in timings.values():
        assert entry["median_ms"] > 0 and entry["images_per_second"] > 0
    for mode in ("graph", "xla"):
        assert set(result["ratios"][mode]["fine_over_dcn"]) == set(KS)
        assert set(result["ratios"][mode]["dcn_over_coarse"]) == set(KS)
    assert result["multiplications"]["fine"] > result["multiplications"]["dcn"]["8"]
    assert {"inputs", "weights", "repeats", "machine"} <= set(result)
    stages = result["dcn_stages"]["cumulative_ms"]
    assert list(stages) == ["coarse_layers", "saliency_and_top_k", "patch_gather",
                            "fine_layers", "refined_top"]
    assert all(value > 0 for value in stages.values())
    methods = result["patch_methods"]
    assert set(methods["cut_ms"]) == set(methods["dcn_ms"]) == {"gather", "extract_patches"}
    assert all(set(cuts) == set(KS) for cuts in methods["cut_ms"].values())


@pytest.mark.slow
def test_bench_json_has_every_field(tmp_path, capsys):
    plot = tmp_path / "bench.png"
    # The memory probes (a process each, which imports TensorFlow) are tested on their own.
    assert cli.main(["bench", "--batch-size", "4", "--repeats", "2", "--json", "--no-memory",
                     "--input-size", "60x72", "--plot", str(plot)]) == 0
    result = json.loads(capsys.readouterr().out)
    _check_fields(result, 4)
    assert result["input_size"] == [60, 72]
    assert result["weights"] == "freshly initialised"
    assert result["training"]["dcn_over_fine_images_per_second"] > 0
    assert set(result["training"]) == {"fine", "dcn", "dcn_over_fine_images_per_second"}
    assert "memory" not in result
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_the_memory_probe_runs_the_model_in_a_process_of_its_own(config):
    from dcn_keras.cluttered_mnist import speed

    memory = speed.peak_memory_mb(config.resized(60, 72), 4, kinds=("dcn",))
    assert set(memory) == {"dcn"}
    assert memory["dcn"]["peak_rss_mb"] > 100 and memory["dcn"]["inference_mb"] >= 0


def test_bench_on_trained_models_and_real_data(experiment, tmp_path, capsys):
    out = tmp_path / "bench.json"
    with tensorflow_warnings() as warnings:
        assert cli.main(["bench", "--batch-size", "8", "--repeats", "2", "--no-train",
                         "--no-memory", "--models", str(experiment / "models"),
                         "--data", str(experiment / "data"), "--out", str(out),
                         "--plot", str(tmp_path / "b.png")]) == 0
    # Each timed function is traced once: TensorFlow has nothing to warn about.
    assert not [m for m in warnings if "retracing" in m]
    assert "DCN k=8" in capsys.readouterr().out
    result = json.loads(out.read_text())
    _check_fields(result, 8)
    assert "test images" in result["inputs"]
    assert set(result["test_error"]["dcn"]) == set(KS)
    assert "training" not in result and "memory" not in result
