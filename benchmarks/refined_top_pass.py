"""Sparse versus dense refined top pass, timed side by side.

DCN inference updates the top layers' first convolution for the k changed
vectors only (dcn_keras/core/sparse_conv.py) instead of running the top layers on
the whole refined map. This times both on the same inputs for a 100x100 and a
200x200 image (23x23 and 48x48 coarse maps):

    .venv/bin/python benchmarks/refined_top_pass.py [--json docs/bench/refined_top_pass.json]
"""

import argparse
import pathlib

import numpy as np
import tensorflow as tf

from dcn_keras import measure, presets
from dcn_keras.core import refine


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50,
                        help="timed calls per configuration at batch 64 (6x that at batch 1)")
    parser.add_argument("--json", type=pathlib.Path, help="also write the result here")
    args = parser.parse_args(argv)
    rows = []
    for size, batch in ((100, 64), (100, 1), (200, 64), (200, 1)):
        model = presets.family("cluttered_mnist").with_config(
            presets.cluttered_mnist().resized(size, size)).build("dcn")
        geometry = model.geometry
        rng = np.random.default_rng(0)
        shape = (batch, geometry.map_height, geometry.map_width, model.feature_dim)
        coarse = tf.constant(rng.random(shape, np.float32))
        fine = tf.constant(rng.random((batch, 8, shape[-1]), np.float32))
        flat = np.stack([rng.choice(geometry.num_positions, 8, replace=False)
                         for _ in range(batch)])
        positions = tf.constant(np.stack(divmod(flat, geometry.map_width), -1), tf.int32)
        _, first = model.top_inference(coarse)
        functions = {
            "dense": tf.function(lambda c: model.top(refine.refine(c, fine, positions),
                                                     training=False)),
            "sparse": tf.function(lambda c: model.refined_logits(c, first, fine, positions)),
        }
        np.testing.assert_allclose(functions["dense"](coarse), functions["sparse"](coarse),
                                   rtol=1e-4, atol=1e-4)
        times = measure.medians_ms(measure.time_side_by_side(
            functions, coarse, repeats=args.repeats if batch > 1 else 6 * args.repeats))
        rows.append({"input_size": [size, size], "map_size": list(shape[1:3]),
                     "batch_size": batch, "num_patches": 8, "median_ms": times,
                     "dense_over_sparse": times["dense"] / times["sparse"]})
    measure.publish({"benchmark": "refined top pass, dense versus sparse (medians of "
                                  "interleaved calls, random coarse and fine vectors)",
                     "rows": rows}, args.json)


if __name__ == "__main__":
    main()
