"""Settings of a pipeline run, as in the TFX templates' `configs.py`.

Sizes and training settings are not repeated here: they are the recipes of the preset's
family (`dcn_keras/<family>/config.py`), picked by profile. The TFX CLI passes no flags, so
every setting can also come from an environment variable.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re

from dcn_keras import presets
from dcn_keras.recipe import PROFILES, Recipe

REPO = pathlib.Path(__file__).resolve().parents[1]
PRESETS = tuple(presets.FAMILIES)
ORCHESTRATORS = ("local", "beam", "kubeflow_v2")
# A Kubeflow pipeline name, and one folder under the pipeline root.
NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,126}[A-Za-z0-9])?")


def check_name(name: str) -> str:
    """`name` if it is a usable pipeline name: 1-128 letters, digits and hyphens, starting
    and ending with a letter or digit. The name is a folder under the pipeline root and the
    serving folder, so a slash or ".." would put artifacts outside them."""
    if not NAME.fullmatch(name):
        raise ValueError(
            f"Pipeline name {name!r} is not usable: it names a folder under the pipeline root "
            "and the Kubeflow pipeline, so it takes 1-128 letters, digits and hyphens, "
            "starting and ending with a letter or digit (no slashes, dots or underscores), "
            "e.g. dcn-cluttered-mnist-quick. Pass another --pipeline-name (or "
            "DCN_PIPELINE_NAME).")
    return name


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Where a run goes and what it runs."""

    preset: str = os.environ.get("DCN_PRESET", "cluttered_mnist")
    profile: str = os.environ.get("DCN_PROFILE", "quick")
    mnist_dir: str = os.environ.get("DCN_MNIST_DIR", "")
    svhn_dir: str = os.environ.get("DCN_SVHN_DIR", "")
    pipeline_root: str = os.environ.get("DCN_PIPELINE_ROOT", str(REPO / "runs/pipeline"))
    pipeline_name: str = os.environ.get("DCN_PIPELINE_NAME", "")
    seed: int = 0
    # Where the cluttered_mnist DCN trainer starts (`graph.DCN_STARTS`).
    dcn_start: str = os.environ.get("DCN_START", "coarse_and_fine")
    # The user's networks (`dcn_keras.from_networks.module_file`), on the preset's data.
    module_file: str = os.environ.get("DCN_MODULE_FILE", "")

    def __post_init__(self):
        object.__setattr__(self, "preset", presets.canonical(self.preset))
        if self.preset not in PRESETS:
            raise ValueError(f"The pipeline supports presets {PRESETS}, got {self.preset!r}.")
        if self.profile not in PROFILES:
            raise ValueError(f"Unknown profile {self.profile!r}; choose one of {PROFILES}.")
        check_name(self.name)
        # A seed the trainers cannot take fails here, not after the examples are generated.
        self.recipe()

    @property
    def name(self) -> str:
        """dcn-<preset>-<profile> with hyphens (Kubeflow forbids "_"), unless set."""
        return self.pipeline_name or f"dcn-{self.preset}-{self.profile}".replace("_", "-")

    @property
    def root(self) -> pathlib.Path:
        return pathlib.Path(self.pipeline_root).resolve()

    @property
    def metadata_path(self) -> str:
        """The SQLite ML Metadata file, shared by the runs under the root."""
        return str(self.root / "metadata.sqlite")

    @property
    def artifacts_root(self) -> str:
        return str(self.root / self.name)

    @property
    def serving_dir(self) -> str:
        """The TF Serving model base path the Pusher writes versions to."""
        return str(self.root / "serving" / self.name)

    def recipe(self) -> Recipe:
        return presets.family(self.preset).recipe(self.profile, seed=self.seed)


def absolute(path: str) -> str:
    """An absolute path for a component parameter ("" stays "": the default source)."""
    return str(pathlib.Path(path).resolve()) if path else ""
