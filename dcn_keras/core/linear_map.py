"""Least-squares maps between two feature maps: fitted in closed form, never trained.

Test-time composition (`cluttered_mnist.compose`) uses one to carry coarse vectors into the
space of fine vectors that a fine model's top layers read. Each output vector is an affine
function of the `window` x `window` input vectors around it, which is a same-padded
convolution, so the fitted map runs as a `keras.layers.Conv2D`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class LinearMap:
    """A fitted `[window, window, D_in, D_out]` kernel and `[D_out]` bias, with its fit."""

    kernel: np.ndarray
    bias: np.ndarray
    r2: float  # fraction of the targets' variance explained, on the fitting data
    samples: int  # vectors fitted

    @property
    def window(self) -> int:
        return self.kernel.shape[0]


def neighbourhoods(features: tf.Tensor, window: int) -> tf.Tensor:
    """`[batch, s1, s2, D]` -> `[batch, s1, s2, window * window * D]`: each vector with its
    neighbours (zeros past the border), ordered as a convolution kernel's rows, columns and
    channels."""
    if window == 1:
        return features
    return tf.image.extract_patches(features, [1, window, window, 1], [1, 1, 1, 1],
                                    [1, 1, 1, 1], "SAME")


def fit(pairs, window: int, l2: float = 1e-3) -> LinearMap:
    """Ridge regression of target vectors on the `window` x `window` source vectors around
    them.

    Args:
      pairs: iterable of (`[batch, s1, s2, D_in]` source, `[batch, s1, s2, D_out]` target)
        feature maps of the same images.
      window: odd neighbourhood size (1: each vector from the source vector at its place).
      l2: ridge penalty, relative to the mean variance of the inputs (scale-free).

    Returns:
      The `LinearMap`; `r2` is 1 - residual / total sum of squares of the targets.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}.")
    sums = None
    for source, target in pairs:
        x = neighbourhoods(tf.cast(source, tf.float32), window).numpy()
        x = x.reshape(-1, x.shape[-1]).astype(np.float64)
        y = np.asarray(target, np.float64).reshape(len(x), -1)
        batch = {"n": len(x), "x": x.sum(0), "y": y.sum(0), "xx": x.T @ x, "xy": x.T @ y,
                 "yy": (y * y).sum(0)}
        sums = batch if sums is None else {key: sums[key] + batch[key] for key in sums}
    if sums is None or sums["n"] < 2:
        raise ValueError("Fitting a linear map needs at least two vectors; the data was empty.")
    n = sums["n"]
    mean_x, mean_y = sums["x"] / n, sums["y"] / n
    cov_xx = sums["xx"] - n * np.outer(mean_x, mean_x)
    cov_xy = sums["xy"] - n * np.outer(mean_x, mean_y)
    penalty = l2 * max(np.trace(cov_xx) / len(cov_xx), 1e-12)
    weights = np.linalg.solve(cov_xx + penalty * np.eye(len(cov_xx)), cov_xy)
    total = sums["yy"].sum() - n * (mean_y ** 2).sum()
    residual = total - 2 * np.sum(weights * cov_xy) + np.sum(weights * (cov_xx @ weights))
    d_in = len(mean_x) // (window * window)
    return LinearMap(
        kernel=weights.reshape(window, window, d_in, -1).astype(np.float32),
        bias=(mean_y - mean_x @ weights).astype(np.float32),
        r2=float(1 - residual / max(total, 1e-12)), samples=int(n))


def r2_score(predicted, target) -> float:
    """1 - residual / total sum of squares of `target` (vectors on the last axis)."""
    predicted, target = np.asarray(predicted, np.float64), np.asarray(target, np.float64)
    target_2d = target.reshape(-1, target.shape[-1])
    total = ((target_2d - target_2d.mean(0)) ** 2).sum()
    return float(1 - ((predicted - target) ** 2).sum() / max(total, 1e-12))
