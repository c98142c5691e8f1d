"""The optimizer step both families' custom `train_step`s share."""

from __future__ import annotations

import tensorflow as tf


def minimise(model, loss_fn):
    """One optimizer step of `model` on `loss_fn()` -> (scalar loss, other outputs); returns
    the other outputs.

    Under tf.distribute each replica's gradients are summed, so the loss is divided by the
    number of replicas: the step then follows the mean over the global batch.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    with tf.GradientTape() as tape:
        loss, outputs = loss_fn()
        replica_loss = loss / replicas
    variables = model.trainable_variables
    model.optimizer.apply_gradients(zip(tape.gradient(replica_loss, variables), variables))
    return outputs
