"""Distillation (Hinton et al., 2015): a trained model's soft predictions as a target.

`dcn compose` fits the bridge of a composed Cluttered MNIST DCN by matching the fine
model's class probabilities (`cluttered_mnist.compose.distill_bridge`): no labels are
needed, and the fine model's ranking of the wrong classes carries signal. A temperature
above 1 softens a confident teacher further.
"""

from __future__ import annotations

import tensorflow as tf


def distillation_loss(teacher_probabilities: tf.Tensor, logits: tf.Tensor,
                      temperature: float = 1.0) -> tf.Tensor:
    """T^2 KL(q || p), mean over the batch: q the teacher's `[batch, classes]`
    probabilities and p the student's softmax of `[batch, classes]` logits, both softened by
    temperature T (the T^2 keeps its gradients on the scale of the cross entropy's)."""
    logits = tf.cast(logits, tf.float32)
    teacher_log = tf.math.log(tf.maximum(tf.cast(teacher_probabilities, tf.float32), 1e-12))
    target_log = tf.nn.log_softmax(teacher_log / temperature, axis=-1)
    student_log = tf.nn.log_softmax(logits / temperature, axis=-1)
    kl = tf.reduce_sum(tf.exp(target_log) * (target_log - student_log), axis=-1)
    return temperature ** 2 * tf.reduce_mean(kl)
