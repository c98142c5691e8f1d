"""Training-step time of the house_numbers preset's models in float32 and in mixed bfloat16, side by
side in one process (medians of interleaved steps, batch 32 of 54x110 crops):

    .venv/bin/python benchmarks/house_numbers_precision.py [--repeats 10]

This is the speed-up behind `dcn house-numbers --precision bfloat16`. It needs a CPU with
AVX512-BF16 (or a GPU) to pay off; elsewhere bfloat16 is emulated and slower.
"""

import argparse

import keras
import numpy as np

from dcn_keras import measure, presets
from dcn_keras.house_numbers.model import MultiDigitModel


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    config = presets.house_numbers()
    rng = np.random.default_rng(0)
    images = rng.random((32, *config.crop_size, 1), np.float32)
    targets = (np.full(32, 2, np.int32), np.tile([[3, 7, 10, 10, 10]], (32, 1)).astype(np.int32))
    print("| model | float32 s/step | mixed bfloat16 s/step | speed-up |")
    print("|---|---:|---:|---:|")
    for part in ("coarse", "fine"):
        models = {}
        for policy in ("float32", "mixed_bfloat16"):
            keras.config.set_dtype_policy(policy)
            models[policy] = MultiDigitModel(config, part)
            models[policy].compile(optimizer="adam")
            models[policy].train_on_batch(images, targets)  # warm-up and tracing
        keras.config.set_dtype_policy("float32")
        steps = {policy: (lambda model=model: model.train_on_batch(images, targets))
                 for policy, model in models.items()}
        times = measure.medians_ms(measure.time_side_by_side(steps, repeats=args.repeats,
                                                             warmup=0))
        full, mixed = (times[policy] / 1e3 for policy in models)
        print(f"| {part} | {full:.3f} | {mixed:.3f} | {full / mixed:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
