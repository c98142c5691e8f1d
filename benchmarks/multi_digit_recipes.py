"""Which training recipe teaches the multi-digit coarse model to read digits in a CPU budget.

Trains the svhn preset's coarse model for the same number of steps (batch 32, mixed
bfloat16, learning rate decayed exponentially to a tenth) with each recipe, and prints the
validation loss and sequence error after every 500 steps. The data is a `dcn data --dataset
mnist_house_numbers` directory:

    .venv/bin/python benchmarks/multi_digit_recipes.py --data runs/house/data

Reading the numbers: -log p(S|x) is about 10.9 nats with the priors only and about 6.9 once
the length is known (three digits of ln 10 each on average); only below that has the model
learned which digits it sees.
"""

import argparse
import dataclasses
import pathlib

import keras

from dcn_keras import presets
from dcn_keras.data import sequence_inputs
from dcn_keras.multi_digit.model import MultiDigitModel

RECIPES = {
    "paper: SGD momentum 0.9, lr 0.01, no batch norm": ("sgd", 0.01, False),
    "Adam lr 1e-3, no batch norm": ("adam", 1e-3, False),
    "SGD momentum 0.9, lr 0.05, batch norm": ("sgd", 0.05, True),
    "Adam lr 1e-3, batch norm (the preset's)": ("adam", 1e-3, True),
}


def run(data: pathlib.Path, optimizer: str, learning_rate: float, batch_norm: bool,
        steps_per_epoch: int, epochs: int) -> dict:
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("mixed_bfloat16")
    config = dataclasses.replace(presets.svhn(), batch_norm=batch_norm)
    train = sequence_inputs.crops(data / "train.tfrecord", config, 32, True, 0)
    valid = sequence_inputs.crops(data / "valid.tfrecord", config, 64, False).take(8)
    model = MultiDigitModel(config, "coarse")
    schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate,
                                                           steps_per_epoch * epochs, 0.1)
    model.compile(optimizer=keras.optimizers.Adam(schedule) if optimizer == "adam"
                  else keras.optimizers.SGD(schedule, momentum=0.9))
    history = model.fit(train.take(steps_per_epoch), validation_data=valid, epochs=epochs,
                        verbose=0).history
    keras.config.set_dtype_policy("float32")
    return history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=pathlib.Path)
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    epochs = args.steps // 500
    print(f"| recipe | validation loss after {', '.join(str(500 * (e + 1)) for e in range(epochs))}"
          " steps | sequence error at the end |")
    print("|---|---|---:|")
    for name, recipe in RECIPES.items():
        history = run(args.data, *recipe, steps_per_epoch=500, epochs=epochs)
        losses = ", ".join(f"{loss:.2f}" for loss in history["val_loss"])
        print(f"| {name} | {losses} | {100 * history['val_sequence_error'][-1]:.1f}% |",
              flush=True)


if __name__ == "__main__":
    main()
