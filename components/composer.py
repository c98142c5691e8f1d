"""DcnComposer: a DCN built at test time from a coarse and a fine model trained apart."""

# No `from __future__ import annotations`: TFX reads these annotations at runtime.
import dataclasses
import os

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples, Model

from components import artifacts
from components.trainer import write_serving_model
from dcn_keras import presets, training
from dcn_keras.atomic import atomic_path

REPORT_BATCH = 100


@component
def DcnComposer(
    examples: InputArtifact[Examples],
    coarse_model: InputArtifact[Model],
    fine_model: InputArtifact[Model],
    model: OutputArtifact[Model],
    preset: Parameter[str],
    num_patches: Parameter[int],
    scales: Parameter[str] = "",
    attention: Parameter[str] = "",
    combination: Parameter[str] = "",
) -> None:
    """The paper's transfer setting: a DCN from `coarse_model` and `fine_model` trained
    apart, attending to `num_patches` patches; neither is retrained (the family's
    `compose`, which may fit a map between them on the training split of `examples`).
    House-numbers DCNs average over `scales` (comma-separated, such as "1,0.75,0.5"; empty:
    the preset's) and pick and combine patches by `attention` and `combination` (empty: the
    preset's; the paper's are "entropy_gradient" and "inverse_entropy"), which the model
    artifact's properties and the served replies name. Where composition fits something,
    what it did is measured on the validation split and written to `composition/` in the
    model artifact."""
    family = presets.family(preset)
    methods = {name: value for name, value in (("attention", attention),
                                               ("combination", combination)) if value}
    if methods:
        family = family.with_config(dataclasses.replace(family.config, **methods))
    coarse = training.load_model(artifacts.keras_path(coarse_model), family)
    fine = training.load_model(artifacts.keras_path(fine_model), family)
    train, valid = family.datasets(
        artifacts.split_pattern(examples, "train"), artifacts.split_pattern(examples, "eval"),
        REPORT_BATCH, counts=(artifacts.split_count(examples, "train"),
                              artifacts.split_count(examples, "eval")))
    dcn = family.compose(coarse, fine, num_patches, _scales(scales), train)
    with atomic_path(artifacts.keras_path(model)) as tmp:
        dcn.save(tmp)
    write_serving_model(dcn, artifacts.serving_path(model), family)
    family.composition_report(dcn, coarse, fine, train, valid,
                              os.path.join(model.uri, "composition"))
    model.set_string_custom_property(
        "scales", ",".join(map(str, getattr(dcn, "scales", (1.0,)))))
    model.set_string_custom_property("model_kind", "composed")
    model.set_int_custom_property("num_patches", num_patches)
    for name in ("attention", "combination"):
        if hasattr(dcn, name):
            model.set_string_custom_property(name, getattr(dcn, name))


def _scales(text: str) -> tuple[float, ...] | None:
    try:
        scales = tuple(float(part) for part in text.split(",")) if text else None
    except ValueError:
        raise ValueError(f"scales must be comma-separated numbers such as '1,0.75,0.5', "
                         f"got {text!r}.") from None
    if scales and not all(0 < scale <= 1 for scale in scales):
        raise ValueError(f"scales must lie in (0, 1], got {text!r}.")
    return scales
