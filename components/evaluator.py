"""DcnEvaluator (Cluttered MNIST), HouseNumbersEvaluator (house_numbers preset) and
NetworksEvaluator (megapixel_mnist, and a module file's networks): DCN against the
baselines on the test split; they bless DCN for the Pusher.

Not TFMA's Evaluator: the comparison needs the error of one DCN at several k, the
multiplications of each model and images per second measured side by side in one process,
none of which TFMA computes; and TFMA 0.52 cannot load Keras 3 models as Keras, so it would
score only the SavedModel signature's probabilities. The blessing follows TFX's convention
(a `blessed` property and a BLESSED / NOT_BLESSED file), so the standard Pusher consumes it.
"""

# No `from __future__ import annotations`: TFX reads these annotations at runtime.
import json
import os

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples, Model, ModelBlessing, ModelEvaluation

from components import artifacts
from dcn_keras import measure, presets, training
from dcn_keras.classifier import report as networks_report
from dcn_keras.cluttered_mnist import report
from dcn_keras.data import tfrecords
from dcn_keras.house_numbers import report as house_numbers_report


def blessing_decision(rows: list[dict], max_error_gap: float) -> dict:
    """Bless DCN when its test error is at most the fine model's plus `max_error_gap`."""
    errors = {row["kind"]: row["test_error"] for row in rows}
    return _decision(errors["dcn"], errors["fine"], max_error_gap)


def _decision(dcn_error: float, reference_error: float, max_error_gap: float,
              reference: str = "fine", **details) -> dict:
    gap = dcn_error - reference_error
    return {"blessed": gap <= max_error_gap, "dcn_error": dcn_error,
            f"{reference}_error": reference_error, "reference": reference, "error_gap": gap,
            "max_error_gap": max_error_gap, **details}


@component
def DcnEvaluator(
    examples: InputArtifact[Examples],
    coarse_model: InputArtifact[Model],
    fine_model: InputArtifact[Model],
    dcn_model: InputArtifact[Model],
    composed_model: InputArtifact[Model],
    evaluation: OutputArtifact[ModelEvaluation],
    blessing: OutputArtifact[ModelBlessing],
    preset: Parameter[str],
    batch_size: Parameter[int],
    max_error_gap: Parameter[float],
) -> None:
    """Writes results.json / results.md / plots to `evaluation`, and blesses `dcn_model`
    when its test error is within `max_error_gap` of the fine model's."""
    family = presets.family(preset)
    inputs = {"coarse": coarse_model, "fine": fine_model, "dcn": dcn_model,
              "composed": composed_model}
    models = {kind: training.load_model(artifacts.keras_path(artifact), family)
              for kind, artifact in inputs.items()}
    files, count = artifacts.split_pattern(examples, "test"), artifacts.split_count(examples,
                                                                                   "test")
    test = family.test_dataset(files, batch_size, count)
    boxed = family.test_dataset(files, batch_size, count, digit_boxes=True)
    history = os.path.join(dcn_model.uri, artifacts.HISTORY_FILE)
    out = report.compare(models, test, examples.get_string_custom_property("description"),
                         evaluation.uri, family.config, batch_size, {"dcn": history},
                         boxed_test=boxed, digits=tfrecords.digit_indices(files))
    for row in out["result"]["rows"]:
        evaluation.set_float_custom_property(f"{row['kind']}_test_error", row["test_error"])
    _bless(blessing, dcn_model, blessing_decision(out["result"]["rows"], max_error_gap))


def _bless(blessing, model, decision: dict) -> None:
    """TFX's blessing convention: a BLESSED / NOT_BLESSED file and properties."""
    os.makedirs(blessing.uri, exist_ok=True)
    name = "BLESSED" if decision["blessed"] else "NOT_BLESSED"
    with open(os.path.join(blessing.uri, name), "w") as marker:
        json.dump(decision, marker, indent=2)
    blessing.set_int_custom_property("blessed", int(decision["blessed"]))
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_float_custom_property("error_gap", decision["error_gap"])


def house_numbers_blessing(rows: list[dict], max_error_gap: float) -> dict:
    """Bless the composed DCN when its sequence error at the most scales, with k patches at
    each (the model that is pushed: `report.table_2_rows`' "served" row), is at most the
    fine model's at as many scales plus `max_error_gap`."""
    scales = max(row["scales"] for row in rows)
    last = [row for row in rows if row["scales"] == scales]
    served, = (row for row in last if row.get("served"))
    fine, = (row for row in last if row["name"] == "Fine model")
    return _decision(served["test_error"], fine["test_error"], max_error_gap, scales=scales)


@component
def HouseNumbersEvaluator(
    examples: InputArtifact[Examples],
    model: InputArtifact[Model],
    evaluation: OutputArtifact[ModelEvaluation],
    blessing: OutputArtifact[ModelBlessing],
    preset: Parameter[str],
    max_error_gap: Parameter[float],
    largest: Parameter[int],
    all_patches_images: Parameter[int],
) -> None:
    """Table 2 for the composed DCN `model` and the coarse and fine models it holds
    (`house_numbers.report.compare`, as `dcn house-numbers` writes it): sequence error on the
    original-size test images at 1-3 scales, soft attention, the DCN with each attention and
    combination, the fine network on every window of the first `all_patches_images`, how
    often the picks hold the number, batch-1 times on the `largest` test images and the
    selected patches, written to `evaluation`; blesses the DCN (`house_numbers_blessing`).
    Rerun after a kill, it resumes from the test images it had read
    (`artifacts.resume_dir`)."""
    dcn = training.load_model(artifacts.keras_path(model), presets.family(preset))
    test = tfrecords.full_images(artifacts.split_pattern(examples, "test"))
    # A rerun of a killed evaluation gets a new artifact URI; the marks it had read wait
    # where the rerun finds them, under a digest of the models and images (`compare`).
    progress = artifacts.resume_dir(evaluation, {"preset": preset})
    out = house_numbers_report.compare(dcn, test,
                                     examples.get_string_custom_property("description"),
                                     measure.machine_description(), evaluation.uri, largest,
                                     all_patches_images=all_patches_images,
                                     progress_dir=progress)
    decision = house_numbers_blessing(out["result"]["rows"], max_error_gap)
    evaluation.set_float_custom_property("dcn_test_error", decision["dcn_error"])
    evaluation.set_float_custom_property("fine_test_error", decision["fine_error"])
    _bless(blessing, model, decision)


@component
def NetworksEvaluator(
    examples: InputArtifact[Examples],
    dcn_model: InputArtifact[Model],
    reference_model: InputArtifact[Model],
    evaluation: OutputArtifact[ModelEvaluation],
    blessing: OutputArtifact[ModelBlessing],
    preset: Parameter[str],
    batch_size: Parameter[int],
    max_error_gap: Parameter[float],
    module_file: Parameter[str] = "",
    module_sha256: Parameter[str] = "",
    baseline_models: InputArtifact[list[Model]] = None,
) -> None:
    """Test error (with its standard error) of the DCN, the `reference_model` it is held
    against and every other baseline of `baseline_models`, and their batch-1 times side by
    side (`classifier.report.compare`), written to `evaluation`; blesses the DCN when its
    error is at most the reference's plus `max_error_gap`. Each model's kind is what its
    trainer recorded (`artifacts.model_kind`): DcnTrainer's and TFX's Trainer with
    `networks_run_fn` both serve."""
    family = artifacts.family(preset, module_file, module_sha256).for_data(examples.uri)
    inputs = [reference_model, *(baseline_models or []), dcn_model]
    models = {artifacts.model_kind(artifact):
              training.load_model(artifacts.keras_path(artifact), family)
              for artifact in inputs}
    out = networks_report.compare(
        family, {0: models}, artifacts.split_pattern(examples, "test"),
        examples.get_string_custom_property("description"), evaluation.uri, batch_size,
        artifacts.split_count(examples, "test"))
    errors = {row["kind"]: row["test_error"] for row in out["result"]["rows"]}
    for kind, error in errors.items():
        evaluation.set_float_custom_property(f"{kind}_test_error", error)
    reference = artifacts.model_kind(reference_model)
    _bless(blessing, dcn_model, _decision(errors["dcn"], errors[reference], max_error_gap,
                                          reference))
