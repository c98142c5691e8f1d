"""The settings of one experiment run, defined once per preset.

Each family's `config.py` holds its recorded recipe (the `paper` profile: the run behind the
published figures) and derives the `quick` and `smoke` profiles from it. The `dcn` CLI, the
TFX pipeline and the Makefile read these instead of repeating numbers.
"""

from __future__ import annotations

import dataclasses

PROFILES = ("paper", "quick", "smoke")
# `keras.utils.set_random_seed` seeds NumPy's global generator, which takes 32 bits.
MAX_SEED = 2**32 - 1


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Data sizes, training and evaluation settings of one run."""

    train_images: int
    valid_images: int
    test_images: int
    epochs: int
    batch_size: int = 64
    learning_rate: float = 1e-3
    num_patches: int | None = None  # k; None: the preset's
    hint_weight: float | None = None  # DCN with hints; None: the preset's
    dcn_epochs: int | None = None  # epochs of the DCN trainers; None: `epochs`
    # "bfloat16": mixed precision training; "auto": bfloat16 where the machine computes it
    # natively (AVX512-BF16, AMX, GPU), float32 elsewhere (`training.resolve_precision`)
    precision: str = "float32"
    # Re-estimate batch normalisation statistics on this many training images before each
    # validation (0: off); short runs need it (`training.recalibrate_batch_norm`).
    batch_norm_images: int = 0
    scales: tuple[float, ...] = (1.0,)  # house numbers: the report's scales
    largest: int = 100  # house numbers: batch-1 timings on this many of the largest test images
    # house numbers: the rows of the fine network on every window (fine layers on every
    # position, the paper's bound on attention) on the first this many test images; 0
    # leaves them out
    all_patches_images: int = 0
    num_shards: int = 4  # pipeline: TFRecord shards per split
    max_error_gap: float = 0.01  # pipeline: DCN is blessed when its error <= fine's + this
    seed: int = 0  # the data's seed, and the training seed of one model (`dcn train`)
    # The training seeds of an experiment (`dcn experiment`): every model once per seed.
    seeds: tuple[int, ...] = (0,)
    # Draw `train_images` new training canvases every epoch from the training digits
    # (Cluttered MNIST), instead of reading one fixed set every epoch.
    fresh_canvases: bool = False

    def __post_init__(self):
        for name in ("train_images", "valid_images", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.test_images < 1:
            raise ValueError(f"test_images must be at least 1, got {self.test_images}.")
        # Checked here, not where training starts: a pipeline or an experiment builds the
        # data with the seed first, and training would refuse it only hours later.
        if not _is_seed(self.seed):
            raise ValueError(f"seed must be an integer from 0 to {MAX_SEED}, got "
                             f"{self.seed!r}. Pass another --seed.")
        if not self.seeds or not all(map(_is_seed, self.seeds)) or \
                len(set(self.seeds)) < len(self.seeds):
            raise ValueError(f"seeds must be distinct integers from 0 to {MAX_SEED}, got "
                             f"{self.seeds!r}. Pass other --seeds.")
        if self.precision not in ("float32", "bfloat16", "auto"):
            raise ValueError(f"precision must be 'float32', 'bfloat16' or 'auto', got "
                             f"{self.precision!r}.")

    def replace(self, **changes) -> Recipe:
        """This recipe with `changes`; None values leave a setting as it is."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _is_seed(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEED


def profiles(paper: Recipe, quick: dict, smoke: dict) -> dict[str, Recipe]:
    """{profile: Recipe}: the recorded recipe and two derived from it."""
    return {"paper": paper, "quick": dataclasses.replace(paper, **quick),
            "smoke": dataclasses.replace(paper, **smoke)}
