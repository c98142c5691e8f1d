"""Configuration of the house-numbers DCN (paper sec. 4.2): architecture, preset and recipes."""

from __future__ import annotations

import dataclasses

from dcn_keras import aliases
from dcn_keras.core.layers import Conv, MaxPool, SerializableConfig, output_size, receptive_field
from dcn_keras.core.patches import PatchGrid
from dcn_keras.recipe import Recipe, profiles

# Fields that saved models of earlier releases carry and this one no longer has: a config
# read from such a file ignores them (`MultiDigitConfig.from_dict`).
RETIRED_FIELDS = ("cut_rows", "wrong_size_share", "fine_context")
# The fields of `MultiDigitConfig` that say which windows a model trains on, not how it reads.
TRAINING_DATA = ("cut_window_share",)


@dataclasses.dataclass(frozen=True)
class MultiDigitConfig(SerializableConfig):
    """A house-numbers DCN (paper sec. 4.2, appendix 6.2): fully convolutional coarse and
    fine layers whose feature vectors feed a 1x1 output layer, giving a probability map of
    whole-sequence predictions; the top layer averages that map (Eq. 11).

    Each position predicts the length (1..max_length) and max_length digits with
    `digit_classes` classes (10 digits + "no digit").
    """

    name: str
    channels: int
    train_size: tuple[int, int]  # images are resized to this for training
    crop_size: tuple[int, int]  # random training crops; one coarse position sees this much
    coarse_layers: tuple[Conv | MaxPool, ...]
    fine_layers: tuple[Conv | MaxPool, ...]
    max_length: int = 5
    digit_classes: int = 11
    num_patches: int = 6
    scales: tuple[float, ...] = (1.0,)
    attention: str = "entropy_gradient"  # how the DCN picks patches: `dcn.ATTENTION`
    combination: str = "inverse_entropy"  # how it combines their reads: `dcn.COMBINATION`
    conv_dropout: float = 0.2
    dense_dropout: float = 0.5
    batch_norm: bool = False
    # Share of training windows that cut a number, labelled "no whole number": the model
    # learns to be unsure there, as the DCN's attention and weighting assume
    # (`house_numbers.inputs.cut_windows`). 0: the paper's whole-number crops only.
    cut_window_share: float = 0.0

    @classmethod
    def from_dict(cls, data: dict) -> MultiDigitConfig:
        """The config of a `to_dict` dict, also one written by an earlier release."""
        data = {key: value for key, value in data.items() if key not in RETIRED_FIELDS}
        data["name"] = aliases.current("preset", data["name"]) or data["name"]
        return super().from_dict(data)

    def without_training_data(self) -> MultiDigitConfig:
        """This config with the fields that only shape the training windows (`TRAINING_DATA`)
        at their defaults: a coarse and a fine model trained on other windows compose."""
        defaults = {field.name: field.default for field in dataclasses.fields(self)
                    if field.name in TRAINING_DATA}
        return dataclasses.replace(self, **defaults)

    @property
    def num_logits(self) -> int:
        return self.max_length + self.max_length * self.digit_classes

    @property
    def patch_size(self) -> tuple[int, int]:
        """The fine layers' input: the crop one coarse position covers."""
        return self.crop_size

    def map_size(self, height: int, width: int) -> tuple[int, int]:
        """Coarse probability map size for a `height` x `width` input."""
        return (output_size(self.coarse_layers, height, 0),
                output_size(self.coarse_layers, width, 1))

    def stride(self) -> tuple[int, int]:
        """Pixels between neighbouring coarse positions (height, width)."""
        return receptive_field(self.coarse_layers, 0)[1], receptive_field(self.coarse_layers, 1)[1]

    def grid(self) -> PatchGrid:
        """The patch placement for `core.patches`: a coarse position's crop starts at its
        receptive field's top-left pixel."""
        return PatchGrid(self.stride(), (0, 0), self.crop_size)


def house_numbers() -> MultiDigitConfig:
    """House-number sequences (SVHN) in the transfer setting (paper sec. 4.2, appendix 6.2).

    Coarse: 7 convolutions without padding (5x5/2 with 24, 48, 128 filters; 4x5 with stride
    1x2 and 192; 1x4 with 192; two 1x1 with 1024): a 54x110 crop maps to one position, and
    positions are 8 x 16 pixels apart. Fine: 11 convolutions (5x5 with 48, 64, 128, 160,
    192 filters and zero padding, 2x2 max pooling after the 1st, 3rd and 5th; three 3x3
    with 192; three 1x1 with 1024). Both end in a 1x1 output layer of 5 + 5 x 11 logits,
    which the appendix does not count among the 7 and 11 layers. The paper leaves the
    padding of the 3x3 layers open; "same" keeps a 54x110 patch from shrinking to nothing.

    Batch normalisation follows each convolution, which the appendix does not list: without
    it, neither SGD nor Adam got past predicting lengths on MNIST house numbers within 3000
    steps, while with it Adam reached a third lower validation loss
    (docs/house_numbers.md).

    Three more departures, measured on MNIST house numbers (docs/house_numbers.md): a
    quarter of each training batch are windows that cut the number, with a "no whole
    number" target (`cut_window_share`); the DCN picks the positions where the coarse
    model is most confident (`attention`) instead of by the entropy gradient; and it
    combines the picks of all scales by a sequence vote (`combination`) instead of
    averaging softmaxes.
    """
    return MultiDigitConfig(
        name="house_numbers",
        channels=1,
        train_size=(64, 128),
        crop_size=(54, 110),
        coarse_layers=(
            Conv(24, 5, stride=2),
            Conv(48, 5, stride=2),
            Conv(128, 5, stride=2),
            Conv(192, (4, 5), stride=(1, 2)),
            Conv(192, (1, 4)),
            Conv(1024, 1),
            Conv(1024, 1),
        ),
        fine_layers=(
            Conv(48, 5, padding="same"),
            MaxPool(2),
            Conv(64, 5, padding="same"),
            Conv(128, 5, padding="same"),
            MaxPool(2),
            Conv(160, 5, padding="same"),
            Conv(192, 5, padding="same"),
            MaxPool(2),
            Conv(192, 3, padding="same"),
            Conv(192, 3, padding="same"),
            Conv(192, 3, padding="same"),
            Conv(1024, 1),
            Conv(1024, 1),
            Conv(1024, 1),
        ),
        num_patches=6,
        scales=(1.0,),
        attention="confidence",
        combination="sequence_vote",
        batch_norm=True,
        cut_window_share=0.25,
    )


RECIPES = profiles(
    # The recorded `make house-numbers` run (docs/house_numbers.md): MNIST house numbers,
    # 60k cluttered training crops, 5 epochs of Adam decayed exponentially to a tenth, mixed
    # bfloat16 where it is native (AVX512-BF16, AMX, GPU; float32 elsewhere), Table 2 at 1-3
    # scales on 2,000 SVHN-like test images (and 500 of test_large), the every-window rows on
    # the same 2,000 (about a million fine crops, about 4 hours on 2 cores; a killed report
    # resumes from the images it had read, `report.compare`). Batch-norm statistics are
    # re-estimated on 2,048 training crops before each validation: the fine model's moving
    # averages validated at 81% error where batch statistics gave 18%.
    paper=Recipe(train_images=60000, valid_images=2000, test_images=2000, epochs=5,
                 batch_size=32, num_patches=6, precision="auto", scales=(1.0, 0.75, 0.5),
                 batch_norm_images=2048, all_patches_images=2000),
    # The house_numbers pipeline's wiring with a little training: minutes on 2 cores.
    quick=dict(train_images=3000, valid_images=200, test_images=60, epochs=1, num_shards=2,
               max_error_gap=1.0, largest=20, all_patches_images=10),
    # CI's end-to-end check of the wiring.
    smoke=dict(train_images=64, valid_images=32, test_images=6, epochs=1, batch_size=16,
               num_patches=2, precision="float32", largest=2, num_shards=2,
               max_error_gap=1.0, all_patches_images=1),
)
