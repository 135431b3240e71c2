"""Randomness keyed by the training epoch, so a run resumed after a kill draws what an uninterrupted run would.

tf.data's reshuffle-each-iteration and Keras' SeedGenerators advance with every epoch the current process has run,
so a resumed process would start them over. Instead, the shuffle seed and every seed generator's state are set
from (seed, epoch) when an epoch starts: the batches, augmentations and dropout masks of epoch N are the same
whether the process started at epoch 0 or was restarted at epoch N.
"""

from __future__ import annotations

from typing import Callable, Iterable

import tensorflow as tf

# Keras names the state variable of every SeedGenerator this way; it is how a layer's randomness is found.
SEED_STATE_NAME = "seed_generator_state"
GRAPH_SEED = 0x5EED


def new_epoch_variable() -> tf.Variable:
    """The epoch about to run; the training loop sets it, the training pipeline reads it when an epoch starts."""
    return tf.Variable(0, dtype=tf.int64, trainable=False, name="tl_epoch")


def seed_states(variables: Iterable) -> list:
    return [v for v in variables if v.path.endswith(SEED_STATE_NAME)]


def reset_seed_states(states: list, seed: int, epoch) -> list:
    """Generator i restarts at [seed + i, epoch * 2**32]: its own stream, fresh for each epoch.

    ``epoch`` may be a Python int or a tensor (inside a tf.data function); returns the assign ops."""
    epoch = tf.cast(epoch, tf.int64)
    return [state.assign(tf.stack([tf.constant(seed + i, tf.int64), epoch * 2**32]))
            for i, state in enumerate(states)]


def shuffle_seed(seed: int, epoch: tf.Tensor) -> tf.Tensor:
    return tf.constant(seed, tf.int64) * 1_000_003 + tf.cast(epoch, tf.int64)


def per_epoch(one_epoch: Callable[[tf.Tensor], tf.data.Dataset], epoch: tf.Variable) -> tf.data.Dataset:
    """A dataset that, each time an iteration over it starts, yields ``one_epoch(epoch's value then)``."""

    def traced(value):
        # Inside this function, TensorFlow combines the shuffle's tensor seed with the graph-level seed and fails
        # when that is 0 (it compares the pair in Python). Pinning this function's own graph seed avoids it and
        # makes the order independent of the caller's global seed.
        tf.random.set_seed(GRAPH_SEED)
        return one_epoch(value)

    return tf.data.Dataset.from_tensors(0).map(lambda _: epoch.read_value()).flat_map(traced)
