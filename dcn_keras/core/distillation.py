"""Distillation (Hinton et al., 2015): a trained model's soft predictions as a second target.

The fine model teaches the DCN that shares its fine and top layers. On Cluttered MNIST the
DCN fits its 12,000 training canvases more tightly than the fine model does and generalises
worse; matching the fine model's softened class probabilities as well as the labels closes
that gap (docs/cluttered_mnist.md#distillation-from-the-fine-model).
"""

from __future__ import annotations

import tensorflow as tf

# Softens a confident teacher so that its ranking of the wrong classes carries signal.
TEMPERATURE = 3.0


def with_teacher(dataset: tf.data.Dataset, teacher) -> tf.data.Dataset:
    """`(images, labels)` batches -> `(images, labels, probabilities)`, with the
    `[batch, classes]` class probabilities of `teacher` (a Keras model) on the images."""
    return dataset.map(lambda images, labels: (images, labels,
                                               teacher(images, training=False)))


def distillation_loss(teacher_probabilities: tf.Tensor, logits: tf.Tensor,
                      temperature: float = TEMPERATURE) -> tf.Tensor:
    """T^2 KL(q || p), mean over the batch: q the teacher's `[batch, classes]`
    probabilities and p the student's softmax of `[batch, classes]` logits, both softened by
    temperature T (the T^2 keeps its gradients on the scale of the cross entropy's)."""
    logits = tf.cast(logits, tf.float32)
    teacher_log = tf.math.log(tf.maximum(tf.cast(teacher_probabilities, tf.float32), 1e-12))
    target_log = tf.nn.log_softmax(teacher_log / temperature, axis=-1)
    student_log = tf.nn.log_softmax(logits / temperature, axis=-1)
    kl = tf.reduce_sum(tf.exp(target_log) * (target_log - student_log), axis=-1)
    return temperature ** 2 * tf.reduce_mean(kl)
