"""DcnComposer: a DCN built at test time from a coarse and a fine model trained apart."""

# No `from __future__ import annotations`: TFX reads these annotations at runtime.
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Model

from components import artifacts
from components.trainer import write_serving_model
from dcn_keras import compose, presets, training
from dcn_keras.atomic import atomic_path


@component
def DcnComposer(
    coarse_model: InputArtifact[Model],
    fine_model: InputArtifact[Model],
    model: OutputArtifact[Model],
    preset: Parameter[str] = "cluttered_mnist",
    num_patches: Parameter[int] = 8,
) -> None:
    """The paper's transfer setting: coarse and top layers from `coarse_model`, fine layers
    from `fine_model`, attention over `num_patches` patches; nothing is retrained."""
    config = presets.get(preset)
    dcn = compose.compose(training.load_model(artifacts.keras_path(coarse_model), config),
                          training.load_model(artifacts.keras_path(fine_model), config),
                          config, num_patches)
    with atomic_path(artifacts.keras_path(model)) as tmp:
        dcn.save(tmp)
    write_serving_model(dcn, artifacts.serving_path(model))
    model.set_string_custom_property("model_kind", "composed")
    model.set_int_custom_property("num_patches", num_patches)
