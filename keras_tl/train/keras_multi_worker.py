"""Make Keras 3's `fit` work under MultiWorkerMirroredStrategy, which it does not out of the box.

Keras 3 (up to 3.15.1, the pinned version; keras-team/keras#20585 is open) fails twice with more than one worker:

1. `fit` first builds the model "symbolically" from one batch that it reduces with `strategy.reduce(...)` over the
   whole (x, y) structure; the multi-worker strategy cannot reduce a nested structure ("Attempt to convert a value
   (PerReplica...) to a Tensor"). A model built before `fit` (ours always is) does not need that step: Keras skips
   it when the model holds no strategy of its own and takes the strategy of the scope it runs in instead.
2. Each step's logs (scalar loss and metrics) are averaged with `strategy.reduce("MEAN", v, axis=0)`, and axis 0
   does not exist on a scalar. They are averaged over all replicas with ``axis=None`` here instead.

Both are undone when training ends. The multi-worker test checks that 2 workers train exactly like one process.
"""

from __future__ import annotations

import contextlib

import keras
from keras.src import tree
from keras.src.backend.tensorflow import trainer as tf_trainer


@contextlib.contextmanager
def multi_worker_fit(model: keras.Model, enabled: bool = True):
    """Within this context (and a MultiWorkerMirroredStrategy scope), ``model.fit`` trains on every worker."""
    if not enabled:
        yield
        return
    own_strategy, original_reduce = model._distribute_strategy, tf_trainer.reduce_per_replica
    model._distribute_strategy = None
    tf_trainer.reduce_per_replica = _reduce_per_replica
    try:
        yield
    finally:
        model._distribute_strategy = own_strategy
        tf_trainer.reduce_per_replica = original_reduce


def _reduce_per_replica(values, strategy, reduction):
    if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):
        return tree.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
    return _ORIGINAL_REDUCE(values, strategy, reduction)


_ORIGINAL_REDUCE = tf_trainer.reduce_per_replica
