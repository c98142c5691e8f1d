import json
import math

import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import measure


def test_time_side_by_side_interleaves_every_function_on_the_same_arguments():
    calls = []
    functions = {name: (lambda x, n=name: calls.append((n, x))) for name in ("a", "b")}
    times = measure.time_side_by_side(functions, 7, repeats=3, warmup=1)
    assert {name: len(values) for name, values in times.items()} == {"a": 3, "b": 3}
    assert all(value >= 0 for values in times.values() for value in values)
    # 1 warm-up call each, then a, b alternating: a drift in load reaches both alike.
    assert calls == [("a", 7), ("b", 7)] + [("a", 7), ("b", 7)] * 3


def test_time_per_input_times_each_input_once_per_function():
    seen = []
    times = measure.time_per_input({"f": lambda x, y: seen.append(x + y)},
                                   [(1, 2), (3, 4)], warmup=2)
    assert seen == [3, 3, 3, 7]
    assert len(times["f"]) == 2


def test_medians_ms_and_standard_error():
    assert measure.medians_ms({"f": [0.003, 0.001, 0.002]}) == {"f": pytest.approx(2.0)}
    assert measure.standard_error(0.2, 2000) == pytest.approx(math.sqrt(0.16 / 2000))
    assert measure.standard_error(0.5, 0) == 0.0


def test_paired_difference_is_the_mean_and_standard_error_of_per_image_differences():
    # Per-image differences 1, 0, 0, 0: mean 0.25, sample standard deviation 0.5.
    marks, reference = [1, 1, 0, 1], [0, 1, 0, 1]
    difference, spread = measure.paired_difference(marks, reference)
    assert difference == 0.25
    assert math.isclose(spread, 0.5 / math.sqrt(4))
    assert measure.paired_difference([1], [0]) == (1.0, 0.0)
    with pytest.raises(ValueError):
        measure.paired_difference([1, 0], [1])


def test_clustered_standard_error_counts_a_group_of_copies_as_one_case():
    values = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    alone = measure.clustered_standard_error(values, np.arange(8))
    # One item per group: the sample standard deviation over sqrt(n).
    assert alone == pytest.approx(values.std(ddof=1) / np.sqrt(8))
    # Each value twice, the copies in one group: no more certain than the values once.
    twice = measure.clustered_standard_error(np.repeat(values, 2), np.repeat(np.arange(8), 2))
    assert twice == pytest.approx(alone)
    assert measure.standard_error(values.mean(), 16) < twice  # what the binomial would claim
    _, paired = measure.paired_difference(np.repeat(values, 2), np.zeros(16),
                                          np.repeat(np.arange(8), 2))
    assert paired == pytest.approx(alone)
    with pytest.raises(ValueError, match="8 values but 7 group ids"):
        measure.clustered_standard_error(values, np.arange(7))


def test_wrong_marks_each_image_whose_top_score_misses_its_label():
    scores = tf.constant([[0.9, 0.1], [0.2, 0.8], [3.0, -1.0]])  # probabilities or logits
    labels = tf.constant([0, 0, 1])
    assert measure.wrong(scores, labels).tolist() == [False, True, True]
    data = tf.data.Dataset.from_tensor_slices((scores, labels)).batch(2)
    assert measure.wrong_marks(lambda x: x, data).tolist() == [False, True, True]
    assert measure.wrong_marks(lambda x: x, data.take(0)).shape == (0,)


def test_publish_prints_and_writes_the_same_json_headed_by_the_machine(tmp_path, capsys):
    path = tmp_path / "result.json"
    measure.publish({"images": 3, "errors": [0.25]}, path)
    printed = capsys.readouterr().out
    assert path.read_text() == printed
    result = json.loads(printed)
    assert list(result) == ["machine", "images", "errors"]
    assert "CPU cores" in result["machine"] and result["errors"] == [0.25]
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary left


def test_publish_without_a_path_only_prints(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    measure.publish({"images": 1})
    assert json.loads(capsys.readouterr().out)["images"] == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("flags, native", [("fpu avx avx2 fma", False),
                                           ("avx2 avx512f avx512bw", False),
                                           ("avx2 avx512f avx512_bf16", True),
                                           ("avx2 amx_bf16 amx_tile", True)])
def test_native_bfloat16_needs_avx512_bf16_or_amx(flags, native, monkeypatch):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU computes bfloat16 natively whatever the CPU")
    monkeypatch.setattr(measure.pathlib.Path, "read_text",
                        lambda self: f"processor : 0\nflags : {flags}\n")
    assert measure.native_bfloat16() is native


@pytest.mark.parametrize("flags, cap, described", [
    ("avx2 avx512f avx512_bf16", None, "AVX-512 with BF16"),
    ("avx2 avx512f", None, "AVX-512"),
    ("fpu avx avx2 fma", None, "AVX2 (no AVX-512)"),
    ("avx2 avx512f avx512_bf16", "AVX2",
     "AVX-512 with BF16; oneDNN kernels held to AVX2 (ONEDNN_MAX_CPU_ISA)")])
def test_the_machine_names_its_instruction_set_and_any_cap_on_onednn(flags, cap, described,
                                                                      monkeypatch):
    monkeypatch.setattr(measure.pathlib.Path, "read_text",
                        lambda self: f"processor : 0\nflags : {flags}\n")
    if cap:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    else:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert measure.cpu_features() == described
    assert described in measure.machine_description()
