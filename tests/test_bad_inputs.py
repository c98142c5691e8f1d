"""Bad input at the command line's doors, tried as an outside tester would: each gets one
line that names the problem and the fix, exit status 2, no traceback and no output written.
(The serving signatures: tests/serving/test_edge_cases.py; the readers: tests/data/.)"""

import pathlib
import re
import shutil
import sys

import pytest

from dcn_keras.data import cluttered_mnist
from dcn_keras_cli import cli

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _no_global_seed_left_behind():
    """`dcn train` seeds TensorFlow globally before it reads the data; leave the global seed
    unset for the tests after these, as they found it."""
    yield
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        tf.random.set_seed(None)


def _refused_by_the_parser(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def _refused(argv, capsys) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dcn {argv[0]}: error: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("flags, message", [
    (["--train", "0"], "argument --train: expected an integer >= 1, got '0'"),
    (["--train", "-5"], "argument --train: expected an integer >= 1, got '-5'"),
    (["--valid", "0"], "argument --valid: expected an integer >= 1"),
    (["--test", "ten"], "argument --test: expected an integer, got 'ten'"),
    (["--seed", "-1"], "argument --seed: expected an integer >= 0"),
])
def test_data_sizes_below_one_are_refused_before_anything_runs(tmp_path, capsys, flags,
                                                               message):
    err = _refused_by_the_parser(["data", "--out", str(tmp_path / "d"), *flags], capsys)
    assert message in err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "argument --epochs: expected an integer >= 1"),
    (["--dcn-epochs", "-1"], "argument --dcn-epochs: expected an integer >= 1"),
    (["--batch-size", "0"], "argument --batch-size: expected an integer >= 1"),
    (["--learning-rate", "nan"], "argument --learning-rate: expected a finite number > 0"),
    (["--learning-rate", "-0.1"], "argument --learning-rate: expected a finite number > 0"),
    (["--num-patches", "0"], "argument --num-patches: expected an integer >= 1"),
    (["--hint-weight", "1.5"], r"argument --hint-weight: expected a number in [0, 1)"),
    (["--hint-weight", "nan"], r"argument --hint-weight: expected a number in [0, 1)"),
    (["--verbose", "loud"], "argument --verbose: expected auto, 0, 1 or 2, got 'loud'"),
])
def test_training_settings_that_would_train_nothing_are_refused(tmp_path, capsys, flags,
                                                                message):
    err = _refused_by_the_parser(["experiment", "--out", str(tmp_path / "x"), *flags], capsys)
    assert message in err
    assert not (tmp_path / "x").exists()


def test_train_zero_is_also_refused_by_the_recipe(capsys):
    """From Python (or a pipeline config) the recipe refuses what the parser would."""
    from dcn_keras import presets

    for value in (0, -5):
        with pytest.raises(ValueError, match="train_images must be at least 1"):
            presets.family("cluttered_mnist").recipe("smoke", train_images=value)


def test_more_patches_than_regions_is_refused(capsys):
    err = _refused(["multiplications", "--patches", "10000"], capsys)
    assert "num_patches must be an integer from 1 to 529" in err
    assert "argument --patches: expected an integer >= 1" in _refused_by_the_parser(
        ["multiplications", "--patches", "0"], capsys)
    assert "expected a positive HxW" in _refused_by_the_parser(
        ["multiplications", "--input-size", "0x100"], capsys)


def test_export_of_a_missing_or_damaged_model_is_refused(tmp_path, capsys):
    err = _refused(["export", "--model", str(tmp_path / "dcn.keras"), "--out",
                    str(tmp_path / "serving")], capsys)
    assert "No model at" in err and "dcn train" in err
    (tmp_path / "dcn.keras").write_bytes(b"not a zip archive")
    err = _refused(["export", "--model", str(tmp_path / "dcn.keras"), "--out",
                    str(tmp_path / "serving")], capsys)
    assert "is not a loadable Keras model" in err
    assert not (tmp_path / "serving").exists()
    assert "argument --version: expected an integer >= 1" in _refused_by_the_parser(
        ["export", "--model", "m", "--out", "o", "--version", "0"], capsys)


def test_export_of_a_model_of_another_preset_is_refused(tmp_path, capsys):
    err = _refused(["export", "--preset", "house_numbers", "--model",
                    str(FIXTURES / "v0_1_dcn_cluttered_mnist.keras"), "--out",
                    str(tmp_path / "serving")], capsys)
    assert "holds a model for preset 'cluttered_mnist', not 'house_numbers'" in err
    assert "--preset cluttered_mnist" in err
    assert not (tmp_path / "serving").exists()


def test_a_dcn_of_your_own_networks_without_its_module_file_is_named(tmp_path, capsys):
    import keras

    from dcn_keras.classifier.model import DynamicCapacityNetwork

    L = keras.layers
    coarse = keras.Sequential([keras.Input((32, 32, 1)), L.Conv2D(8, 3, strides=2),
                               L.Conv2D(8, 3, strides=2)])
    fine = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(8, 3),
                             L.GlobalAveragePooling2D()])
    top = keras.Sequential([keras.Input((None, None, 8)), L.Conv2D(4, 2),
                            L.GlobalMaxPooling2D()])
    path = tmp_path / "dcn.keras"
    DynamicCapacityNetwork.from_networks(coarse, fine, top, num_patches=2).save(path)
    err = _refused(["export", "--model", str(path), "--out", str(tmp_path / "serving")],
                   capsys)
    assert "holds a DCN built from your own networks" in err and "--module-file" in err
    assert not (tmp_path / "serving").exists()


@pytest.mark.parametrize("dataset, preset, fix", [
    ("mnist_house_numbers", "cluttered_mnist", "--preset house_numbers"),
    ("cluttered_mnist", "house_numbers", "--preset cluttered_mnist"),
    ("megapixel_mnist", "cluttered_mnist", "--preset megapixel_mnist"),
])
def test_train_on_another_presets_data_names_the_preset_that_reads_it(tmp_path, capsys, dataset,
                                                                     preset, fix):
    data = tmp_path / "data"
    data.mkdir()
    (data / "metadata.json").write_text(f'{{"dataset": "{dataset}", "splits": {{}}}}')
    err = _refused(["train", "--preset", preset, "--data", str(data), "--model", "coarse",
                    "--out", str(tmp_path / "coarse.keras")], capsys)
    assert f"holds {dataset} data" in err and fix in err
    assert not (tmp_path / "coarse.keras").exists()


def test_train_on_a_missing_data_directory_says_how_to_build_it(tmp_path, capsys):
    err = _refused(["train", "--data", str(tmp_path / "nowhere"), "--model", "coarse",
                    "--out", str(tmp_path / "coarse.keras")], capsys)
    assert "train.tfrecord does not exist. Build the data set first with `dcn data`" in err
    assert not (tmp_path / "coarse.keras").exists()


@pytest.mark.parametrize("cut, message", [
    ("record boundary", r"train.tfrecord does not match metadata.json beside it: images 5 "
                        r"\(the manifest says 10\)"),
    ("mid-record", "train.tfrecord is a corrupt TFRecord file"),
])
def test_train_on_a_truncated_split_is_refused_before_training(tmp_path, mnist_dir, capsys,
                                                               cut, message):
    from tests.data.test_manifest import _cut_on_a_record_boundary, _record_ends

    data = tmp_path / "data"
    cluttered_mnist.build(data, mnist_dir, {"train": 10, "valid": 2, "test": 2}, progress=False)
    train = data / "train.tfrecord"
    if cut == "record boundary":
        _cut_on_a_record_boundary(train, keep=5)
    else:
        # Into the pixels of record 6: its header says more bytes than the file holds.
        train.write_bytes(train.read_bytes()[:_record_ends(train)[4] + 12 + 100])
    err = _refused(["train", "--data", str(data), "--model", "coarse", "--out",
                    str(tmp_path / "coarse.keras")], capsys)
    assert re.search(message, err) and "dcn data" in err
    assert not (tmp_path / "coarse.keras").exists()


def test_data_into_a_directory_holding_other_files_is_refused(tmp_path, mnist_dir, capsys):
    (tmp_path / "results.md").write_text("mine")
    err = _refused(["data", "--out", str(tmp_path), "--mnist-dir", str(mnist_dir), "--train",
                    "2", "--valid", "1", "--test", "1"], capsys)
    assert "holds results.md, which `dcn data` does not write" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.md"]


def test_an_output_inside_a_file_is_refused_naming_the_file(tmp_path, mnist_dir, capsys):
    (tmp_path / "runs").write_text("mine")
    err = _refused(["data", "--out", str(tmp_path / "runs" / "data"), "--mnist-dir",
                    str(mnist_dir), "--train", "2", "--valid", "1", "--test", "1"], capsys)
    assert f"{tmp_path / 'runs'} is a file" in err and "--out" in err
    assert "Errno" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert (tmp_path / "runs").read_text() == "mine"


def test_evaluate_without_a_data_directory_names_the_file(tmp_path, capsys):
    err = _refused(["evaluate", "--data", str(tmp_path / "nowhere"), "--models",
                    str(tmp_path), "--out", str(tmp_path / "report")], capsys)
    assert "metadata.json" in err
    assert not (tmp_path / "report").exists()


def test_a_tensorflow_check_failing_mid_run_is_one_line(monkeypatch, capsys):
    """In-graph checks (a tf.Example of another preset's size, met in the first batch)
    fail inside TensorFlow; the command reports their message, not a traceback."""
    import tensorflow as tf

    from dcn_keras import experiments

    def fails_in_the_first_batch(*args, **kwargs):
        raise tf.errors.InvalidArgumentError(
            None, None, "Graph execution error:\n\nDetected at node assert_equal_1/Assert/Assert"
                        " defined at (most recent call last):\n<stack traces unavailable>\n"
                        "assertion failed: [tf.Example image shape differs from the preset "
                        "shape [100, 100, 1]]\n\t [[{{node assert_equal_1/Assert/Assert}}]]")

    monkeypatch.setattr(experiments, "train_model", fails_in_the_first_batch)
    err = _refused(["train", "--data", "d", "--model", "coarse", "--out", "m.keras"], capsys)
    assert err == ("dcn train: error: assertion failed: [tf.Example image shape differs from "
                   "the preset shape [100, 100, 1]]\n")


@pytest.mark.parametrize("page, least", [("bad_inputs.md", 60), ("bad_requests.md", 30),
                                         ("faults.md", 10)])
def test_the_faults_table_cites_tests_that_exist(page, least):
    """docs/bad_inputs.md (at least 60 bad inputs), docs/bad_requests.md (at least 30 bad
    requests to the served model) and docs/faults.md (killed and interrupted processes): each
    row names a test that is there."""
    table = (FIXTURES.parents[1] / "docs" / page).read_text()
    rows = [line for line in table.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) >= least
    tests = pathlib.Path(__file__).parent
    for row in rows:
        cited = re.findall(r"`([\w/]+\.py)?::(test_\w+)`", row)
        assert cited or "same test" in row, row
        file = None
        for path, name in cited:
            file = path or file
            assert re.search(rf"^def {name}\(", (tests / file).read_text(), re.M), (file, name)


@pytest.mark.parametrize("dataset", ["cluttered_mnist", "house_numbers"])
def test_a_data_set_larger_than_the_disk_is_refused_before_writing(dataset, mnist_dir,
                                                                    tmp_path, capsys):
    out = tmp_path / "data"
    assert cli.main(["data", "--dataset", dataset, "--out", str(out), "--mnist-dir",
                     str(mnist_dir), "--train", "10000000000", "--valid", "2",
                     "--test", "2"]) == 2
    assert re.search(r"train 10,000,000,000.* GB, more than the .* GB free.*smaller --train",
                     capsys.readouterr().err)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_model_saved_under_another_kinds_name_is_named(experiment, tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(experiment / "models" / "coarse.keras", models / "dcn.keras")
    assert cli.main(["evaluate", "--data", str(experiment / "data"), "--models", str(models),
                     "--out", str(tmp_path / "report")]) == 2
    assert re.search(r"dcn\.keras holds a Sequential .*, not a DCN, but its name says it is "
                     r"the dcn with hints", capsys.readouterr().err)


@pytest.mark.parametrize("argv", [
    ["data", "--seed", "4294967296"],
    ["experiment", "--seeds", "0", "4294967296"],
    ["train", "--data", "d", "--model", "coarse", "--seed", "99999999999999999999"],
])
def test_seeds_beyond_32_bits_are_refused_before_anything_runs(tmp_path, capsys, argv):
    """NumPy's global generator, which training seeds, takes 32 bits: a larger seed would
    build the data first and be refused when training starts."""
    err = _refused_by_the_parser([*argv, "--out", str(tmp_path / "out")], capsys)
    assert "expected an integer from 0 to 4294967295" in err
    assert list(tmp_path.iterdir()) == []


def test_seeds_training_cannot_take_are_refused_by_the_recipe_and_the_pipeline():
    from dcn_keras import presets
    from pipeline import configs

    family = presets.family("cluttered_mnist")
    for seed in (-1, 2**32):
        with pytest.raises(ValueError, match="seed must be an integer from 0 to 4294967295"):
            family.recipe("smoke", seed=seed)
        with pytest.raises(ValueError, match="Pass another --seed"):
            configs.PipelineConfig(profile="smoke", seed=seed)
    with pytest.raises(ValueError, match="seeds must be distinct integers from 0 to"):
        family.recipe("smoke", seeds=(0, 2**32))
    assert family.recipe("smoke", seed=2**32 - 1).seed == 2**32 - 1


def test_export_versions_beyond_int64_are_refused(tmp_path, capsys):
    """TF Serving reads version folders as int64 and skips others: such a version would be
    exported and never served."""
    model = str(FIXTURES / "v0_1_dcn_cluttered_mnist.keras")
    err = _refused(["export", "--model", model, "--out", str(tmp_path / "serving"),
                    "--version", str(2**63)], capsys)
    assert "positive integers, got 9223372036854775808; the largest it reads is" in err
    assert not (tmp_path / "serving").exists()
    (tmp_path / "serving" / str(2**63 - 1)).mkdir(parents=True)
    err = _refused(["export", "--model", model, "--out", str(tmp_path / "serving")], capsys)
    assert "got 9223372036854775808" in err and "--version" in err
    assert [p.name for p in (tmp_path / "serving").iterdir()] == [str(2**63 - 1)]


@pytest.mark.parametrize("name", ["coarse.h5", "coarse", "coarse.keras.tmp"])
def test_a_model_output_that_is_not_a_keras_file_is_refused_before_training(tmp_path, capsys,
                                                                            name):
    """Keras saves a DCN to .h5 without a word and cannot load it back; other suffixes it
    refuses only once training is done."""
    err = _refused(["train", "--data", str(tmp_path / "nowhere"), "--model", "coarse",
                    "--out", str(tmp_path / name)], capsys)
    assert f"Cannot save a model to {tmp_path / name}: models are saved as .keras" in err
    assert list(tmp_path.iterdir()) == []
    err = _refused(["compose", "--data", str(tmp_path / "nowhere"), "--coarse", "c.keras",
                    "--fine", "f.keras", "--out", str(tmp_path / name)], capsys)
    assert "Pass an output path ending in .keras" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size", ["10x10", "1x1", "22x100", "100x22"])
def test_an_input_size_too_small_for_the_model_is_named(capsys, size):
    err = _refused(["multiplications", "--input-size", size], capsys)
    assert f"cluttered_mnist takes images of at least 23x23 pixels, got {size}" in err
    assert "--input-size" in err and "from 1 to 0" not in err


def test_a_size_beyond_the_memory_is_one_line(capsys):
    # 4 PB: past any machine's address space, so refused however the kernel overcommits.
    err = _refused(["bench", "--batch-size", "100000000000", "--repeats", "1", "--no-train",
                    "--no-memory"], capsys)
    assert err.startswith("dcn bench: error: out of memory (Unable to allocate")
    assert "--batch-size" in err
