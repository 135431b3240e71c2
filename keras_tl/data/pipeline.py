"""tf.data input pipelines: parallel decode + resize, cache, shuffle, batch, augment (training only), prefetch.

Images stay raw 0-255: the model holds its own preprocessing, so training, evaluation and every exported artifact
see the same input. The resize is rounded to whole levels, so a decoded image is uint8 until it is batched: a cache
or shuffle buffer holds a quarter of the bytes float32 took, and every cache mode feeds the same pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from keras_tl.config.schema import AugmentConfig
from keras_tl.data.augment import augments, build_augmenter  # noqa: F401 (imported from here too)
from keras_tl.data.epoch_seeds import per_epoch, reset_seed_states, seed_states, shuffle_seed
from keras_tl.data.image_cache import claim_cache
from keras_tl.edge.decoding import decode_as_trained

AUTOTUNE = tf.data.AUTOTUNE
IMAGE_INPUT = "image"
# Images the training shuffle mixes at once. A buffered uint8 image at 224 px holds about 270 KB of resident memory
# (more than its 147 KiB of pixels), so 10,000 of them took 2.7 GB; the train split comes in a seeded random order
# (keras_tl.data.split.training_order), so a few thousand suffice to mix every class into each batch.
SHUFFLE_BUFFER = 2_048


def load_image(path: tf.Tensor | str, image_size: int) -> tf.Tensor:
    """Decode one image file to a float32 [size, size, 3] tensor of whole levels 0-255: the pixels training feeds.

    Training decodes its scan's decode paths with it: files TensorFlow reads natively, and converted PNGs."""
    return tf.cast(decode_uint8(path, image_size), tf.float32)


def decode_uint8(path: tf.Tensor | str, image_size: int) -> tf.Tensor:
    """The [size, size, 3] uint8 image that pipelines cache and batch (bilinear, antialiased, rounded)."""
    return _resized(_decoded(tf.io.read_file(path)), image_size)


def load_images(paths: Sequence[str], image_size: int) -> np.ndarray:
    """A batch of original image files for predict/verification, with the pixels training feeds for them.

    A file the scan would convert is converted in memory by the same rule (keras_tl.edge.decoding); the scan's
    PNG is lossless, so both reach the resize with the same pixels."""
    batch = []
    for path in paths:
        data = Path(path).read_bytes()
        converted = decode_as_trained(data)
        image = _decoded(data) if converted is None else tf.constant(np.asarray(converted))
        batch.append(_resized(image, image_size).numpy())
    return np.stack(batch).astype("float32")  # exact: whole levels


def _decoded(data: tf.Tensor | bytes) -> tf.Tensor:
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _resized(image: tf.Tensor, image_size: int) -> tf.Tensor:
    image = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
    # Rounding costs at most half a level, what a uint8 model input (int8 TFLite, a camera frame) rounds anyway.
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def encode_targets(label_sets: Sequence[Sequence[str]], label_names: Sequence[str], multi_label: bool) -> np.ndarray:
    index = {name: i for i, name in enumerate(label_names)}
    if multi_label:
        targets = np.zeros((len(label_sets), len(label_names)), dtype="float32")
        for row, labels in enumerate(label_sets):
            for label in labels:
                targets[row, index[label]] = 1.0
        return targets
    return np.array([index[labels[0]] for labels in label_sets], dtype="int32")


def make_dataset(decode_paths: Sequence[str], targets: np.ndarray, *, image_size: int, batch_size: int,
                 training: bool, seed: int, augment: Optional[AugmentConfig] = None, cache: str = "memory",
                 cache_file: Optional[Path] = None, extra_inputs: Optional[dict[str, np.ndarray]] = None,
                 include_image: bool = True, epoch: Optional[tf.Variable] = None) -> tf.data.Dataset:
    """Batches of (image, target), or ({"image": ..., **extra_inputs}, target) for multi-input models.

    Images are float32 in 0-255 (uint8 until batched). With a cache, images are decoded in file order into it and
    the shuffle runs over cached images. Without one, the shuffle runs over file paths and decoding follows it, so
    decoding overlaps training from the first step and no buffer of decoded images is ever filled. Both visit the
    same order.
    Without ``include_image`` (text-only models) the inputs are ``extra_inputs`` alone, and no image is ever
    decoded (tf.data only reads what the dataset yields). With ``epoch`` (training), each epoch's order and
    augmentations depend only on the seed and the variable's value when the epoch's iteration starts."""
    paths = tf.data.Dataset.from_tensor_slices(list(map(str, decode_paths)))

    def decode(path):
        return decode_uint8(path, image_size)

    images = None
    if include_image and (cache == "memory" or (cache == "disk" and cache_file is not None)):
        images = paths.map(decode, num_parallel_calls=AUTOTUNE, deterministic=True)
        if cache == "memory":
            images = images.cache()
        else:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            claim_cache(cache_file)
            images = images.cache(str(cache_file))
    augmenter = build_augmenter(augment, seed) if (training and augment is not None and include_image) else None
    augmenter_states = seed_states(augmenter.variables) if augmenter is not None else []

    def batches(epoch_now: Optional[tf.Tensor] = None) -> tf.data.Dataset:
        order = dict(count=len(decode_paths), training=training, seed=seed, epoch=epoch_now)
        if not include_image:
            ds = shuffled(_examples(None, targets, extra_inputs), **order)
        elif images is not None:
            ds = shuffled(_examples(images, targets, extra_inputs), **order)
        else:
            ds = shuffled(_examples(paths, targets, extra_inputs), **order)
            ds = ds.map(lambda x, y: (_map_image(x, decode), y), num_parallel_calls=AUTOTUNE, deterministic=True)
        ds = ds.batch(batch_size)
        if not include_image:
            return ds
        if augmenter is not None and epoch_now is not None:
            # Runs as the epoch's iteration starts, before any batch is augmented.
            reset_seed_states(augmenter_states, seed, epoch_now)

        def to_float(batch):
            batch = tf.cast(batch, tf.float32)
            return batch if augmenter is None else augmenter(batch, training=True)

        return ds.map(lambda x, y: (_map_image(x, to_float), y), num_parallel_calls=AUTOTUNE, deterministic=True)

    if training and epoch is not None:
        # flat_map hides the batch count; Keras then finds the end of each epoch by running out of data (and warns).
        batch_count = -(-len(decode_paths) // batch_size)
        ds = per_epoch(batches, epoch).apply(tf.data.experimental.assert_cardinality(batch_count))
    else:
        ds = batches()
    return ds.prefetch(AUTOTUNE)


def shuffled(ds: tf.data.Dataset, count: int, *, training: bool, seed: int,
             epoch: Optional[tf.Tensor] = None) -> tf.data.Dataset:
    """The order every training pipeline uses: a seeded shuffle, redrawn each epoch.

    The permutation depends only on ``count``, ``seed`` (and ``epoch`` when given) and TensorFlow's global seed,
    never on the elements: a dataset of row indices shuffled here visits rows in the same order as the images."""
    if not training:
        return ds
    if epoch is not None:
        return ds.shuffle(min(count, SHUFFLE_BUFFER), seed=shuffle_seed(seed, epoch), reshuffle_each_iteration=False)
    return ds.shuffle(min(count, SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)


def _examples(images: Optional[tf.data.Dataset], targets: np.ndarray,
              extra_inputs: Optional[dict[str, np.ndarray]]) -> tf.data.Dataset:
    inputs = images
    if extra_inputs:
        columns = {k: tf.data.Dataset.from_tensor_slices(v) for k, v in extra_inputs.items()}
        inputs = tf.data.Dataset.zip(columns if images is None else {IMAGE_INPUT: images, **columns})
    return tf.data.Dataset.zip((inputs, tf.data.Dataset.from_tensor_slices(targets)))


def _map_image(inputs, fn):
    """Apply ``fn`` to the image of an example or batch, whether it is the whole input or the "image" entry."""
    if isinstance(inputs, dict):
        return {**inputs, IMAGE_INPUT: fn(inputs[IMAGE_INPUT])}
    return fn(inputs)


def balanced_class_weights(targets: np.ndarray, num_classes: int) -> dict[int, float]:
    """Inverse-frequency weights for single-label targets (every class must occur in ``targets``)."""
    weights = compute_class_weight("balanced", classes=np.arange(num_classes), y=targets)
    return {i: float(w) for i, w in enumerate(weights)}
