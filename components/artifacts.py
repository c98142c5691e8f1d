"""Where the DCN components put things inside TFX artifacts."""

from __future__ import annotations

import hashlib
import json
import os

from ml_metadata.metadata_store import metadata_store as mlmd
from tfx.orchestration import metadata
from tfx.types import artifact_utils
from tfx.utils import path_utils

from dcn_keras import presets
from dcn_keras.from_networks import module_file as module_file_lib

# Artifact split name -> the dcn_keras split it holds.
SPLITS = {"train": "train", "eval": "valid", "test": "test"}
KERAS_FILE = "model.keras"
HISTORY_FILE = "model_history.csv"
# The model kind, for Model artifacts whose trainer cannot set properties (TFX's Trainer).
KIND_FILE = "model_kind.txt"
EPOCHS_DIR = "epochs"  # in a ModelRun: every epoch's weights, epoch_NN.weights.h5


def split_pattern(examples, split: str) -> str:
    """Glob of the TFRecord shards of `split` in an Examples artifact."""
    return os.path.join(artifact_utils.get_split_uri([examples], split), "*.tfrecord")


def split_count(examples, split: str) -> int:
    """Number of examples in `split`, as recorded by the example generator."""
    return examples.get_int_custom_property(f"{split}_examples")


def keras_path(model) -> str:
    return os.path.join(model.uri, KERAS_FILE)


def model_kind(model) -> str:
    """The kind of model a Model artifact holds: the `model_kind` property `DcnTrainer`
    sets, else the `KIND_FILE` that `networks_run_fn` writes beside the model."""
    kind = model.get_string_custom_property("model_kind")
    if kind:
        return kind
    try:
        with open(os.path.join(model.uri, KIND_FILE)) as file:
            return file.read().strip()
    except FileNotFoundError:
        raise ValueError(f"The Model artifact at {model.uri} names no model kind: train it "
                         "with DcnTrainer or TFX's Trainer with components.networks_run_fn "
                         "(docs/own_networks.md).") from None


def serving_path(model) -> str:
    """The SavedModel directory the standard Pusher copies (`Format-Serving`)."""
    return path_utils.serving_model_dir(model.uri)


def family(preset: str, module_file: str = "", module_sha256: str = ""):
    """The family a component works with: the preset's, or a module file's networks on the
    preset's data, after checking that the file is the one the pipeline was built with."""
    if module_file and module_sha256 and module_file_lib.digest(module_file) != module_sha256:
        raise ValueError(f"Module file {module_file} changed after the pipeline was built; "
                         "rebuild and rerun the pipeline so that its trainers see one "
                         "version of it.")
    return presets.family(preset, module_file)


def resume_dir(model, settings: dict) -> str:
    """Where a component keeps the state of unfinished work (a trainer's epochs, an
    evaluator's marks): beside its output artifacts, in
    `<pipeline root>/<component id>/.resume/<digest of settings>`. A rerun of a killed
    execution gets a new artifact URI but the same inputs and parameters, so it finds the
    state; other inputs or parameters get another folder."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    component_dir = os.path.dirname(os.path.dirname(model.uri.rstrip("/")))
    return os.path.join(component_dir, ".resume", digest.hexdigest()[:16])


def metadata_store(metadata_path: str):
    """The ML Metadata store of a local pipeline (SQLite file)."""
    return mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))


def latest_outputs(metadata_path: str) -> dict:
    """The newest outputs of a pipeline from its ML Metadata (SQLite) file.

    Returns a dict with, where present: `models` {model kind: `.keras` path}, `test` (glob
    of the test split's TFRecords), `data` (the description of the data), `evaluation`
    (directory of results.md) and `serving` (the pushed model version).
    """
    if not os.path.exists(metadata_path):
        return {}
    store = metadata_store(metadata_path)

    def newest(type_name):
        """Published artifacts of a type, oldest first (failed runs publish nothing)."""
        found = [a for a in store.get_artifacts_by_type(type_name) if a.state == a.LIVE]
        return sorted(found, key=lambda a: a.create_time_since_epoch)

    outputs = {"models": {}}
    for model in newest("Model"):
        kind = model.custom_properties.get("model_kind")
        if kind is not None:
            outputs["models"][kind.string_value] = os.path.join(model.uri, KERAS_FILE)
    if examples := newest("Examples"):
        outputs["test"] = os.path.join(examples[-1].uri, "Split-test", "*.tfrecord")
        outputs["data"] = examples[-1].custom_properties["description"].string_value
    if evaluations := newest("ModelEvaluation"):
        outputs["evaluation"] = evaluations[-1].uri
    if pushed := newest("PushedModel"):
        destination = pushed[-1].custom_properties.get("pushed_destination")
        outputs["serving"] = destination.string_value if destination else None
    return outputs
