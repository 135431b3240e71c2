"""tf.data input pipelines: parallel decode + resize, cache, shuffle, batch, augment (training only), prefetch.

Images stay raw 0-255 float32: the model holds its own preprocessing, so training, evaluation and every
exported artifact see the same input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from keras_tl.config.schema import AugmentConfig

AUTOTUNE = tf.data.AUTOTUNE
IMAGE_INPUT = "image"


def load_image(path: tf.Tensor | str, image_size: int) -> tf.Tensor:
    """Decode one image file to a float32 [size, size, 3] tensor in 0-255 (bilinear, antialiased)."""
    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    image = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
    return tf.clip_by_value(image, 0.0, 255.0)


def load_images(paths: Sequence[str], image_size: int) -> np.ndarray:
    """A batch of images for predict/verification, decoded exactly as in training."""
    return np.stack([load_image(str(p), image_size).numpy() for p in paths]).astype("float32")


def encode_targets(label_sets: Sequence[Sequence[str]], label_names: Sequence[str], multi_label: bool) -> np.ndarray:
    index = {name: i for i, name in enumerate(label_names)}
    if multi_label:
        targets = np.zeros((len(label_sets), len(label_names)), dtype="float32")
        for row, labels in enumerate(label_sets):
            for label in labels:
                targets[row, index[label]] = 1.0
        return targets
    return np.array([index[labels[0]] for labels in label_sets], dtype="int32")


def build_augmenter(cfg: AugmentConfig, seed: int) -> Optional[keras.Sequential]:
    layers = []
    if cfg.flip != "none":
        layers.append(keras.layers.RandomFlip(cfg.flip, seed=seed))
    if cfg.rotation > 0:
        layers.append(keras.layers.RandomRotation(cfg.rotation, fill_mode="reflect", seed=seed + 1))
    if cfg.zoom > 0:
        layers.append(keras.layers.RandomZoom(cfg.zoom, fill_mode="reflect", seed=seed + 2))
    if cfg.contrast > 0:
        layers.append(keras.layers.RandomContrast(cfg.contrast, value_range=(0, 255), seed=seed + 3))
    return keras.Sequential(layers, name="augment") if layers else None


def make_dataset(decode_paths: Sequence[str], targets: np.ndarray, *, image_size: int, batch_size: int,
                 training: bool, seed: int, augment: Optional[AugmentConfig] = None, cache: str = "memory",
                 cache_file: Optional[Path] = None, extra_inputs: Optional[dict[str, np.ndarray]] = None,
                 include_image: bool = True) -> tf.data.Dataset:
    """Batches of (image, target), or ({"image": ..., **extra_inputs}, target) for multi-input models.

    Images are float32 in 0-255. Without ``include_image`` (text-only models) the inputs are ``extra_inputs``
    alone, and no image is ever decoded (tf.data only reads what the dataset yields)."""
    paths = tf.data.Dataset.from_tensor_slices(list(map(str, decode_paths)))
    images = paths.map(lambda p: load_image(p, image_size), num_parallel_calls=AUTOTUNE, deterministic=True)
    if cache == "memory":
        images = images.cache()
    elif cache == "disk" and cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        images = images.cache(str(cache_file))
    if not include_image:
        inputs = tf.data.Dataset.zip({k: tf.data.Dataset.from_tensor_slices(v) for k, v in extra_inputs.items()})
    elif extra_inputs:
        columns = {IMAGE_INPUT: images, **{k: tf.data.Dataset.from_tensor_slices(v) for k, v in extra_inputs.items()}}
        inputs = tf.data.Dataset.zip(columns)
    else:
        inputs = images
    ds = tf.data.Dataset.zip((inputs, tf.data.Dataset.from_tensor_slices(targets)))
    if training:
        ds = ds.shuffle(min(len(decode_paths), 10_000), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    augmenter = build_augmenter(augment, seed) if (training and augment is not None and include_image) else None
    if augmenter is not None:
        def augment_batch(x, y):
            if isinstance(x, dict):
                return {**x, IMAGE_INPUT: augmenter(x[IMAGE_INPUT], training=True)}, y
            return augmenter(x, training=True), y

        ds = ds.map(augment_batch, num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.prefetch(AUTOTUNE)


def balanced_class_weights(targets: np.ndarray, num_classes: int) -> dict[int, float]:
    """Inverse-frequency weights for single-label targets (every class must occur in ``targets``)."""
    weights = compute_class_weight("balanced", classes=np.arange(num_classes), y=targets)
    return {i: float(w) for i, w in enumerate(weights)}
