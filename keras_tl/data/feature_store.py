"""Pooled base features of one split, computed once: rows in image order, in memory or memory-mapped on disk.

Small sets stay in memory; sets larger than the configured limit go to a ``.npy`` file that is filled batch by
batch and read back through a memory map, so neither extraction nor training ever holds the whole set in RAM.
Training batches gather rows by index, so the head sees exactly the batches the images would have formed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import tensorflow as tf

from keras_tl.data.epoch_seeds import per_epoch
from keras_tl.data.pipeline import AUTOTUNE, shuffled


class FeatureStore:
    def __init__(self, rows: int, width: int, *, path: Optional[Path] = None):
        self.rows, self.width, self.path = rows, width, path
        self._filled = 0
        if path is None:
            self.array = np.empty((rows, width), dtype="float32")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._partial = path.with_name(path.name + ".partial.npy")
            self.array = np.lib.format.open_memmap(self._partial, mode="w+", dtype="float32", shape=(rows, width))

    @property
    def on_disk(self) -> bool:
        return self.path is not None

    def append(self, batch: np.ndarray) -> None:
        end = self._filled + len(batch)
        if end > self.rows:
            raise ValueError(f"feature store holds {self.rows} rows; got {end}")
        self.array[self._filled:end] = batch
        self._filled = end

    def finish(self) -> "FeatureStore":
        """Check every row was written; a disk store is flushed and renamed, then reopened read-only."""
        if self._filled != self.rows:
            raise ValueError(f"feature store expected {self.rows} rows, got {self._filled}")
        if self.path is not None:
            self.array.flush()
            del self.array
            os.replace(self._partial, self.path)
            self.array = np.load(self.path, mmap_mode="r")
        return self

    def delete(self) -> None:
        self.array = np.empty((0, self.width), dtype="float32")
        if self.path is not None:
            for file in (self.path, self._partial):
                file.unlink(missing_ok=True)

    def batches(self, order: tf.data.Dataset, targets: np.ndarray) -> tf.data.Dataset:
        """(features, targets) for each batch of row indices that ``order`` yields."""
        if not self.on_disk:  # a graph-side gather: no Python, no GIL per batch
            features, labels = tf.constant(self.array), tf.constant(targets)
            return order.map(lambda rows: (tf.gather(features, rows), tf.gather(labels, rows)),
                             num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)
        mapped, target_dtype = self.array, tf.as_dtype(targets.dtype)

        def gather(rows: np.ndarray):
            return np.asarray(mapped[rows]), targets[rows]

        def lookup(rows):
            x, y = tf.numpy_function(gather, [rows], (tf.float32, target_dtype), stateful=False)
            x.set_shape((None, self.width))
            y.set_shape((None, *targets.shape[1:]))
            return x, y

        return order.map(lookup, num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)


def row_order(rows: int, *, batch_size: int, training: bool, seed: int, repeat: bool = False,
              epoch: Optional[tf.Variable] = None) -> tf.data.Dataset:
    """Batches of row indices: the same seeded order make_dataset gives ``rows`` images (see ``shuffled``),
    keyed by ``epoch`` as make_dataset's is.

    With ``repeat``, the shuffle runs over all rows and never ends (a pool of augmented views drawn from epoch
    after epoch; the caller sets steps per epoch, and ``epoch`` is not used)."""
    if repeat:
        return shuffled(tf.data.Dataset.range(rows), rows, training=training, seed=seed).repeat().batch(batch_size)

    def batches(epoch_now: Optional[tf.Tensor] = None) -> tf.data.Dataset:
        indices = tf.data.Dataset.range(rows)
        return shuffled(indices, rows, training=training, seed=seed, epoch=epoch_now).batch(batch_size)

    return per_epoch(batches, epoch) if (training and epoch is not None) else batches()
