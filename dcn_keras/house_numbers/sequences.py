"""Multi-digit sequence outputs (paper sec. 4.2, after Goodfellow et al. 2013): Eq. 9-14.

A prediction vector holds `max_length` length logits (lengths 1..max_length) followed by
`max_length` x `digit_classes` digit logits (class 10 = no digit). A probability map is a
`[batch, s1, s2, ...]` grid of such predictions.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dcn_keras.core.saliency import entropy

NO_DIGIT = 10


def probabilities(logits: tf.Tensor, max_length: int = 5,
                  digit_classes: int = 11) -> tuple[tf.Tensor, tf.Tensor]:
    """`[..., max_length * (1 + digit_classes)]` logits -> (length probabilities
    `[..., max_length]`, digit probabilities `[..., max_length, digit_classes]`)."""
    length = tf.nn.softmax(logits[..., :max_length])
    digits = tf.reshape(logits[..., max_length:],
                        tf.concat([tf.shape(logits)[:-1], [max_length, digit_classes]], 0))
    return length, tf.nn.softmax(digits)


def average_pool(length: tf.Tensor, digits: tf.Tensor,
                 mask: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """The top layer g (Eq. 11): the mean of a probability map's predictions,
    `[batch, s1, s2, ...]` -> `[batch, ...]`, over the positions where `mask`
    (`[batch, s1, s2]`, 1 = inside the image) is set, all positions by default."""
    if mask is None:
        return tf.reduce_mean(length, axis=[1, 2]), tf.reduce_mean(digits, axis=[1, 2])
    mask = tf.cast(mask, length.dtype)
    weights = mask / tf.maximum(tf.reduce_sum(mask, axis=[1, 2], keepdims=True), 1.0)
    return (tf.reduce_sum(weights[..., None] * length, [1, 2]),
            tf.reduce_sum(weights[..., None, None] * digits, [1, 2]))


def inverse_entropy_weights(probs: tf.Tensor, axis, mask: tf.Tensor | None = None) -> tf.Tensor:
    """Eq. 13-14: w = H^-1 / sum H^-1 over the positions `axis`, per softmax; positions
    where `mask` (broadcast against `probs` without its last axis) is 0 get weight 0."""
    inverse = 1.0 / tf.maximum(entropy(probs), 1e-6)
    if mask is not None:
        inverse *= tf.cast(mask, inverse.dtype)
    return inverse / tf.maximum(tf.reduce_sum(inverse, axis=axis, keepdims=True), 1e-12)


def soft_attention(length: tf.Tensor, digits: tf.Tensor,
                   mask: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """The soft-attention top (Eq. 12): each softmax of each position weighted by its
    normalised inverse entropy, `[batch, s1, s2, ...]` -> `[batch, ...]`, over the
    positions where `mask` (`[batch, s1, s2]`) is set."""
    digit_mask = None if mask is None else mask[..., None]
    return (tf.reduce_sum(inverse_entropy_weights(length, [1, 2], mask)[..., None] * length,
                          [1, 2]),
            tf.reduce_sum(inverse_entropy_weights(digits, [1, 2], digit_mask)[..., None]
                          * digits, [1, 2]))


def sequence_vote(length: tf.Tensor, digits: tf.Tensor,
                  valid: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Combine P predictions per example by their most probable sequences: each valid
    prediction votes for its own best sequence (`best_sequence`) with that sequence's
    probability (`sequence_log_probability`), and the output is the probability-weighted
    mean of the predictions that voted for the winning sequence.

    Unlike averaging softmaxes, this never mixes windows that see the number from different
    offsets: one that reads "37" and one that reads "7" disagree on the first digit, and
    their average can read neither.

    Args:
      length: `[batch, P, L]`, digits `[batch, P, L, C]`, valid `[batch, P]` (1 = counts).

    Returns:
      (length `[batch, L]`, digits `[batch, L, C]`).
    """
    shape = tf.shape(length)
    flat_length = tf.reshape(length, [-1, shape[2]])
    flat_digits = tf.reshape(digits, tf.concat([[-1], tf.shape(digits)[2:]], 0))
    n, sequence = best_sequence(flat_length, flat_digits)
    log_p = tf.reshape(sequence_log_probability(flat_length, flat_digits, n, sequence),
                       shape[:2])
    log_p = tf.where(valid > 0, log_p, -1e30)
    # Relative to the best, so that votes do not underflow.
    weight = tf.exp(log_p - tf.reduce_max(log_p, axis=1, keepdims=True)) * tf.cast(
        valid > 0, log_p.dtype)
    # Picks vote together when their (length, sequence) are equal: one integer key each,
    # grouped by tf.unique, so that memory grows with P, not P^2 (every position of a
    # large image is thousands of picks).
    classes = tf.cast(tf.shape(digits)[-1], tf.int64)
    keys = (tf.cast(n, tf.int64) + tf.cast(shape[2] + 1, tf.int64) * tf.reduce_sum(
        tf.cast(sequence, tf.int64) * classes ** tf.range(tf.cast(shape[2], tf.int64)), -1))
    span = tf.cast(shape[2] + 1, tf.int64) * classes ** tf.cast(shape[2], tf.int64)
    keys = tf.reshape(keys, shape[:2]) + tf.range(tf.cast(shape[0], tf.int64))[:, None] * span
    _, group = tf.unique(tf.reshape(keys, [-1]))
    group = tf.reshape(group, shape[:2])
    votes = tf.gather(tf.math.unsorted_segment_sum(weight, group, tf.size(keys)), group)
    winner = tf.argmax(tf.where(valid > 0, votes, -1.0), axis=1, output_type=tf.int32)
    agree = tf.cast(tf.equal(group, tf.gather(group, winner[:, None], batch_dims=1)),
                    weight.dtype) * weight
    agree /= tf.maximum(tf.reduce_sum(agree, axis=1, keepdims=True), 1e-30)
    return (tf.reduce_sum(agree[..., None] * length, 1),
            tf.reduce_sum(agree[..., None, None] * digits, 1))


def digit_entropy(digits: tf.Tensor) -> tf.Tensor:
    """Eq. 10: the summed entropy of the digit softmaxes, `[batch, L, C]` -> `[batch]`."""
    return tf.reduce_sum(entropy(digits), axis=-1)


def best_sequence(length: tf.Tensor, digits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The most probable sequence under the likelihood the models are trained on
    (`sequence_log_probability`): Eq. 9's p(S0 = n) prod_{i <= n} p(S_i = s_i), times
    p(S_i = no digit) for i > n.

    The "no digit" factors are what the paper's eleventh class is for. Without them, an
    average of many softmaxes (Eq. 11, or scales averaged) reads numbers too short: each
    extra digit costs the log of a diluted digit probability and earns nothing, while the
    readings that end earlier never pay for the "no digit" they do not see.

    Args:
      length: `[batch, L]` probabilities of lengths 1..L.
      digits: `[batch, L, C]` digit probabilities (class 10 = no digit).

    Returns:
      (`[batch]` int32 lengths 1..L, `[batch, L]` int32 digits, 10 after the length).
    """
    floor = 1e-12
    best = tf.argmax(digits[..., :NO_DIGIT], axis=-1, output_type=tf.int32)
    best_log = tf.math.log(tf.maximum(tf.reduce_max(digits[..., :NO_DIGIT], axis=-1), floor))
    none_log = tf.math.log(tf.maximum(digits[..., NO_DIGIT], floor))
    # For n = 1..L: log p(S0 = n) + sum_{i <= n} max_d log p(S_i = d)
    # + sum_{i > n} log p(S_i = no digit).
    after = tf.reduce_sum(none_log, axis=-1, keepdims=True) - tf.cumsum(none_log, axis=-1)
    scores = tf.math.log(tf.maximum(length, floor)) + tf.cumsum(best_log, axis=-1) + after
    n = tf.argmax(scores, axis=-1, output_type=tf.int32) + 1
    present = tf.range(tf.shape(digits)[1])[None, :] < n[:, None]
    return n, tf.where(present, best, NO_DIGIT)


def readings(length_probs: tf.Tensor, digit_probs: tf.Tensor) -> list[str]:
    """The digits of each `best_sequence` of a batch, as text: `["42", "7", ...]`."""
    lengths, digits = best_sequence(length_probs, digit_probs)
    return ["".join(str(d) for d in row[:n])
            for n, row in zip(np.asarray(lengths), np.asarray(digits))]


def sequence_log_probability(length_probs: tf.Tensor, digit_probs: tf.Tensor,
                              length: tf.Tensor, digits: tf.Tensor) -> tf.Tensor:
    """log p(S | x) per example from a prediction (length `[batch, L]`, digits
    `[batch, L, C]`): the length softmax and all digit softmaxes, absent digits with the
    "no digit" target (`digits` `[batch, L]` padded with 10, `length` 1..L)."""
    floor = 1e-12  # an average of softmaxes can underflow to 0 in float32
    return (tf.math.log(tf.maximum(tf.gather(length_probs, length - 1, batch_dims=1), floor))
            + tf.reduce_sum(tf.math.log(tf.maximum(
                tf.gather(digit_probs, digits, batch_dims=2), floor)), axis=-1))


def distance_to_uniform(length_probs: tf.Tensor, digit_probs: tf.Tensor) -> tf.Tensor:
    """KL(uniform || p) summed over the length and digit softmaxes of a prediction (length
    `[..., L]`, digits `[..., L, C]`) -> `[...]`, per position on maps: 0 when every
    softmax is uniform, the loss of a window that holds no whole number."""
    floor = 1e-12

    def kl(probs):
        classes = tf.cast(tf.shape(probs)[-1], probs.dtype)
        return -tf.reduce_mean(tf.math.log(tf.maximum(probs, floor)), -1) - tf.math.log(classes)

    return kl(length_probs) + tf.reduce_sum(kl(digit_probs), -1)


def position_distance_to_uniform(length_maps: tf.Tensor, digit_maps: tf.Tensor) -> tf.Tensor:
    """The mean over a map's positions of each one's `distance_to_uniform` (length
    `[batch, s1, s2, L]`, digits `[batch, s1, s2, L, C]`) -> `[batch]`: the loss of a window
    that holds no whole number. Each position, not only their average: a fine window's
    positions can be confident and disagree while their average is uniform, and on a whole
    image each of them is averaged in beside other windows' positions
    (docs/house_numbers.md)."""
    return tf.reduce_mean(distance_to_uniform(length_maps, digit_maps), [1, 2])


def sequence_errors(predicted_length, predicted_digits, length, digits) -> tf.Tensor:
    """`[batch]` bool: the whole sequence is wrong (length or any digit differs)."""
    return tf.logical_or(tf.not_equal(predicted_length, length),
                         tf.reduce_any(tf.not_equal(predicted_digits, digits), axis=-1))
