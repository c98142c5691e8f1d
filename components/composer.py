"""DcnComposer: a DCN built at test time from a coarse and a fine model trained apart."""

# No `from __future__ import annotations`: TFX reads these annotations at runtime.
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Model

from components import artifacts
from components.trainer import write_serving_model
from dcn_keras import presets, training
from dcn_keras.atomic import atomic_path


@component
def DcnComposer(
    coarse_model: InputArtifact[Model],
    fine_model: InputArtifact[Model],
    model: OutputArtifact[Model],
    preset: Parameter[str],
    num_patches: Parameter[int],
    scales: Parameter[str] = "",
) -> None:
    """The paper's transfer setting: a DCN from `coarse_model` and `fine_model` trained
    apart, attending to `num_patches` patches; nothing is retrained (the family's
    `compose`). Multi-digit DCNs average over `scales` (comma-separated, such as
    "1,0.75,0.5"; empty: the preset's)."""
    family = presets.family(preset)
    coarse = training.load_model(artifacts.keras_path(coarse_model), family)
    fine = training.load_model(artifacts.keras_path(fine_model), family)
    dcn = family.compose(coarse, fine, num_patches, _scales(scales))
    with atomic_path(artifacts.keras_path(model)) as tmp:
        dcn.save(tmp)
    write_serving_model(dcn, artifacts.serving_path(model), family)
    model.set_string_custom_property(
        "scales", ",".join(map(str, getattr(dcn, "scales", (1.0,)))))
    model.set_string_custom_property("model_kind", "composed")
    model.set_int_custom_property("num_patches", num_patches)


def _scales(text: str) -> tuple[float, ...] | None:
    try:
        scales = tuple(float(part) for part in text.split(",")) if text else None
    except ValueError:
        raise ValueError(f"scales must be comma-separated numbers such as '1,0.75,0.5', "
                         f"got {text!r}.") from None
    if scales and not all(0 < scale <= 1 for scale in scales):
        raise ValueError(f"scales must lie in (0, 1], got {text!r}.")
    return scales
