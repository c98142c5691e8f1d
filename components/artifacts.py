"""Where the DCN components put things inside TFX artifacts."""

from __future__ import annotations

import os

from tfx.types import artifact_utils
from tfx.utils import path_utils

# Artifact split name -> the dcn_keras split it holds.
SPLITS = {"train": "train", "eval": "valid", "test": "test"}
KERAS_FILE = "model.keras"
HISTORY_FILE = "model_history.csv"


def split_pattern(examples, split: str) -> str:
    """Glob of the TFRecord shards of `split` in an Examples artifact."""
    return os.path.join(artifact_utils.get_split_uri([examples], split), "*.tfrecord")


def split_count(examples, split: str) -> int:
    """Number of examples in `split`, as recorded by the example generator."""
    return examples.get_int_custom_property(f"{split}_examples")


def keras_path(model) -> str:
    return os.path.join(model.uri, KERAS_FILE)


def serving_path(model) -> str:
    """The SavedModel directory the standard Pusher copies (`Format-Serving`)."""
    return path_utils.serving_model_dir(model.uri)
