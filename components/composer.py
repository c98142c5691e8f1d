"""DcnComposer: a DCN built at test time from a coarse and a fine model trained apart."""

# No `from __future__ import annotations`: TFX reads these annotations at runtime.
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Model

from components import artifacts
from components.trainer import write_serving_model
from dcn_keras import compose, presets, training
from dcn_keras.atomic import atomic_path
from dcn_keras.config import MultiDigitConfig
from dcn_keras.multi_digit_dcn import MultiDigitDCN


@component
def DcnComposer(
    coarse_model: InputArtifact[Model],
    fine_model: InputArtifact[Model],
    model: OutputArtifact[Model],
    preset: Parameter[str] = "cluttered_mnist",
    num_patches: Parameter[int] = 8,
    scales: Parameter[str] = "",
) -> None:
    """The paper's transfer setting: coarse and top layers from `coarse_model`, fine layers
    from `fine_model`, attention over `num_patches` patches; nothing is retrained. For the
    svhn preset, a `MultiDigitDCN` averaging over `scales` (comma-separated, such as
    "1,0.75,0.5"; empty: the preset's)."""
    config = presets.get(preset)
    coarse = training.load_model(artifacts.keras_path(coarse_model), config)
    fine = training.load_model(artifacts.keras_path(fine_model), config)
    if isinstance(config, MultiDigitConfig):
        dcn = MultiDigitDCN(coarse, fine, num_patches, _scales(scales))
        model.set_string_custom_property("scales", ",".join(map(str, dcn.scales)))
    elif scales:
        raise ValueError(f"Preset {preset!r} is single-scale; leave scales empty.")
    else:
        dcn = compose.compose(coarse, fine, config, num_patches)
    with atomic_path(artifacts.keras_path(model)) as tmp:
        dcn.save(tmp)
    write_serving_model(dcn, artifacts.serving_path(model))
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
