"""Phase 1 on cached features: run the frozen base once per image, then train the head on the pooled features.

The Keras guide's recipe runs the frozen base over every image in every epoch although its output never changes.
Here the base runs once (or once per precomputed augmented view), and the head -- the very layer objects of the
full model, from ``tl_pool`` to the output -- trains on the stored features in the same seeded batch order, with
the same optimizer, class weights, callbacks and dropout RNG. The full model's head is trained in place, so phase
2 continues from it unchanged, and without augmentation the result equals the slow path up to float rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from keras_tl.config.schema import ExperimentConfig
from keras_tl.data import PreparedData
from keras_tl.data.feature_store import FeatureStore, row_order
from keras_tl.data.pipeline import AUTOTUNE, augments, build_augmenter
from keras_tl.errors import ConfigError
from keras_tl.models import FEATURES_LAYER
from keras_tl.progress import progress
from keras_tl.run import RunFolder
from keras_tl.train.speed import precision_policy


# A head step is a few small matrix products: one Python round trip per step would cost more than the step.
HEAD_STEPS_PER_EXECUTION = 64
# Feature extraction batches hold as many pixels as a training batch of 32 at 224 px: small images then run in
# large batches (per-batch dispatch costs more than the convolutions of a few 64 px images), with no more memory.
EXTRACTION_PIXELS = 32 * 224 * 224
MAX_EXTRACTION_BATCH = 512


def steps_per_execution(batches: int) -> int:
    """The largest divisor of ``batches`` up to HEAD_STEPS_PER_EXECUTION: an execution that reaches past the
    last batch of an epoch makes Keras warn that the input ran out of data (and miscount the steps)."""
    return max(n for n in range(1, min(batches, HEAD_STEPS_PER_EXECUTION) + 1) if batches % n == 0)


@dataclass
class PhaseInputs:
    """What ``fit`` is called with in one phase."""

    model: keras.Model
    train: tf.data.Dataset
    val: Optional[tf.data.Dataset]
    steps_per_epoch: Optional[int] = None
    min_steps_per_execution: int = 1


def plan_cached_phase1(model: keras.Model, data: PreparedData, config: ExperimentConfig, run: RunFolder,
                       epoch: Optional[tf.Variable] = None, log=print) -> Optional["CachedPhase1"]:
    """A cached phase 1 when the config asks for one (or allows it, with auto) and the model permits; else None.

    Call it where the slow path builds its training dataset, with the same ``epoch`` variable: the rows are then
    visited in the images' order."""
    cfg = config.train
    if cfg.cache_features == "off" or cfg.phase1.epochs == 0:
        return None
    fitted = cfg.phase1.head != "sgd"  # fitted heads need the features (the schema refuses what cannot cache)
    refusal = config.cached_features_refusal()  # with "on", the config was refused already
    if refusal:
        log(f"phase 1: features are not cached ({refusal})")
        return None
    augmenting = augments(config.data.augment)
    if cfg.cache_features == "auto" and augmenting and cfg.feature_views == 0 and not fitted:
        log("phase 1: the base runs on every augmented batch (set train.feature_views to cache augmented views, "
            "or turn data.augment off, to train the head on cached features)")
        return None
    head, reason = head_of(model)
    if head is None:
        if fitted:
            raise ConfigError(f"train.phase1.head: {cfg.phase1.head} fits on cached features, which this model "
                              f"cannot use: {reason}; use head: sgd")
        if cfg.cache_features == "on":
            raise ConfigError(f"train.cache_features: on cannot be used with this model: {reason}")
        log(f"phase 1: features are not cached ({reason})")
        return None
    if augmenting and cfg.feature_views == 0:
        log("phase 1: cached features of un-augmented images (data.augment applies in phase 2; "
            "set train.feature_views to precompute augmented views)")
    views = cfg.feature_views if augmenting else 0
    return CachedPhase1(model, head, data, config, run, views, epoch, log)


def head_of(model: keras.Model) -> tuple[Optional[keras.Model], str]:
    """The layers after the pooled features as a model of their own (same layer objects), or why not."""
    if len(model.inputs) != 1:
        return None, f"it has {len(model.inputs)} inputs; only image-only models can train on cached features"
    try:
        pooled = model.get_layer(FEATURES_LAYER).output
    except ValueError:
        return None, f"it has no '{FEATURES_LAYER}' layer"
    with precision_policy(model.dtype_policy.name):  # the head model scales the loss like the full model
        return keras.Model(pooled, model.outputs, name=f"{model.name}_head"), ""


class CachedPhase1:
    def __init__(self, model: keras.Model, head: keras.Model, data: PreparedData, config: ExperimentConfig,
                 run: RunFolder, views: int, epoch: Optional[tf.Variable], log):
        self.model, self.head, self.data, self.config, self.run, self.views, self.log = (
            model, head, data, config, run, views, log)
        batch_size = config.data.batch_size
        self.train_rows = len(data.splits["train"]) * max(views, 1)
        self.train_order = row_order(self.train_rows, batch_size=batch_size, training=True, seed=config.seed,
                                     repeat=views > 0, epoch=epoch)
        self.stores: list[FeatureStore] = []

    def inputs(self) -> PhaseInputs:
        """Compute the features (the expensive part, done once) and the datasets the head trains on."""
        try:
            return self._inputs()
        except BaseException:  # interrupted or failed: leave no half-written feature file behind
            self.cleanup()
            raise

    def arrays(self) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
        """Train features (every view) and targets, then val's (None without a val split), for fitted heads."""
        train, targets, val = self._stores()
        if val is None:
            return train.array, targets, None, None
        return train.array, targets, val.array, self.data.targets("val")

    def _stores(self) -> tuple[FeatureStore, np.ndarray, Optional[FeatureStore]]:
        """The base features of train (every view) with their targets, and of val (None without a val split)."""
        image = self.model.inputs[0]
        extractor = keras.Model(image, self.model.get_layer(FEATURES_LAYER).output)
        # One trace for every batch size: tracing the base costs seconds, more than small sets take to run. No
        # XLA here even with train.jit_compile: compiling the base takes longer than one pass over most sets.
        features = tf.function(lambda x: extractor(x, training=False),
                               input_signature=[tf.TensorSpec((None, *image.shape[1:]), image.dtype)])
        width = int(extractor.output.shape[-1])
        train = self._extract(features, "train", self.train_rows, width, views=self.views)
        targets = np.concatenate([self.data.targets("train")] * max(self.views, 1))
        val_rows = len(self.data.splits["val"])
        val = self._extract(features, "val", val_rows, width, views=0) if val_rows else None
        return train, targets, val

    def _inputs(self) -> PhaseInputs:
        data, batch_size = self.data, self.config.data.batch_size
        train, train_targets, store = self._stores()
        batches = math.ceil(len(data.splits["train"]) / batch_size)
        train_ds = train.batches(self.train_order, train_targets)
        if not self.views:
            # The per-epoch order hides the batch count from Keras, which then counts a whole execution of
            # steps past the end (a 64/64 bar for 32 batches) and warns that the input ran out of data.
            train_ds = train_ds.apply(tf.data.experimental.assert_cardinality(batches))
        val, val_batches = None, batches
        if store is not None:
            val = store.batches(row_order(store.rows, batch_size=batch_size, training=False, seed=self.config.seed),
                                data.targets("val"))
            val_batches = math.ceil(len(data.splits["val"]) / batch_size)
        return PhaseInputs(self.head, train_ds, val, batches if self.views else None,
                           min_steps_per_execution=steps_per_execution(math.gcd(batches, val_batches)))

    def cleanup(self) -> None:
        for store in self.stores:
            store.delete()
        self.stores.clear()

    def _extract(self, features, split: str, rows: int, width: int, *, views: int) -> FeatureStore:
        limit = self.config.train.feature_memory_mb * 2**20
        path = self.run.feature_store_file(split) if rows * width * 4 > limit else None
        store = FeatureStore(rows, width, path=path)
        self.stores.append(store)
        where = f"a memory-mapped file {path}" if path else "memory"
        what = f"{views} augmented views of " if views else ""
        self.log(f"phase 1: computing base features of {what}{len(self.data.splits[split])} {split} images "
                 f"once ({rows * width * 4 / 2**20:.1f} MiB in {where})")
        cfg, size = self.config, int(self.model.inputs[0].shape[1])
        batch_size = min(max(cfg.data.batch_size, EXTRACTION_PIXELS // (size * size)), MAX_EXTRACTION_BATCH)
        images = self.data.dataset(split, image_size=size, batch_size=batch_size, training=False, seed=cfg.seed,
                                   cache="none")
        images = images.map(lambda x, y: x)
        augmenter = build_augmenter(cfg.data.augment, cfg.seed) if views else None
        if augmenter is not None:
            images = images.map(lambda x: augmenter(x, training=True)).prefetch(AUTOTUNE)
        def every_view():
            for _ in range(max(views, 1)):  # each pass draws new augmentations: one view per pass
                yield from images

        total = math.ceil(len(self.data.splits[split]) / batch_size) * max(views, 1)
        for batch in progress(every_view(), f"phase 1 features of {split}", total=total, unit="batch"):
            # The batch enters as a NumPy array: with op determinism on (train.deterministic), calling the function
            # on the iterator's own tensor ran the base on one core, half as fast (measured at 224 px).
            store.append(np.asarray(features(np.asarray(batch)), dtype="float32"))
        return store.finish()
