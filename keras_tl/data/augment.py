"""Training augmentation: Keras' random flip, rotation, zoom and contrast, with the geometric ones as one warp.

Layer by layer, each geometric layer resamples the whole batch (two bilinear passes for rotation + zoom, and a flip
pass). ``FusedAugment`` keeps the very Keras layers, seeds and seed generators, lets each draw its random transform
as it would, composes the flip, rotation and zoom matrices into one and resamples once with the op the layers use
(``keras.ops.image.affine_transform``: TensorFlow's ImageProjectiveTransformV3, bilinear, reflect fill). Same draws,
same picture, apart from the second bilinear pass's blur and the corners a zoom-out reflects (see
tests/test_augmentation_fused.py), at under half the CPU time (benchmarks/results/augmentation.md).
"""

from __future__ import annotations

from typing import Optional

import keras
import tensorflow as tf

from keras_tl.config.schema import AugmentConfig

FILL_MODE = "reflect"
INTERPOLATION = "bilinear"


def augments(cfg: Optional[AugmentConfig]) -> bool:
    """Whether ``cfg`` changes images at all (build_augmenter returns None exactly when it does not)."""
    return cfg is not None and (cfg.flip != "none" or cfg.rotation > 0 or cfg.zoom > 0 or cfg.contrast > 0)


def augment_layers(cfg: AugmentConfig, seed: int) -> list[keras.layers.Layer]:
    """The Keras layers ``cfg`` asks for, in order, each with its own seed; ``keras.Sequential`` of them is the
    layer-by-layer augmentation that ``FusedAugment`` reproduces."""
    layers = []
    if cfg.flip != "none":
        layers.append(keras.layers.RandomFlip(cfg.flip, seed=seed))
    if cfg.rotation > 0:
        layers.append(keras.layers.RandomRotation(cfg.rotation, fill_mode=FILL_MODE, interpolation=INTERPOLATION,
                                                  seed=seed + 1))
    if cfg.zoom > 0:
        layers.append(keras.layers.RandomZoom(cfg.zoom, fill_mode=FILL_MODE, interpolation=INTERPOLATION,
                                              seed=seed + 2))
    if cfg.contrast > 0:
        layers.append(keras.layers.RandomContrast(cfg.contrast, value_range=(0, 255), seed=seed + 3))
    return layers


def build_augmenter(cfg: AugmentConfig, seed: int) -> Optional["FusedAugment"]:
    layers = augment_layers(cfg, seed)
    return FusedAugment(layers) if layers else None


class FusedAugment(keras.layers.Layer):
    """Applies ``layers`` (of ``augment_layers``) to a float batch [B, H, W, C] with one resampling.

    Its variables are the layers' seed-generator states in the layers' order, as a ``keras.Sequential`` of them
    has, so the per-epoch seeds (epoch_seeds.reset_seed_states) set the same streams."""

    def __init__(self, layers: list[keras.layers.Layer], **kwargs):
        super().__init__(name="augment", **kwargs)
        self.steps = list(layers)  # the one tracked reference: variables in the layers' order

    def build(self, input_shape):
        pass  # the layers hold no weights, only seed states, made with them

    def _step(self, kind):
        return next((layer for layer in self.steps if isinstance(layer, kind)), None)

    @property
    def flip(self) -> Optional[keras.layers.RandomFlip]:
        return self._step(keras.layers.RandomFlip)

    @property
    def rotation(self) -> Optional[keras.layers.RandomRotation]:
        return self._step(keras.layers.RandomRotation)

    @property
    def zoom(self) -> Optional[keras.layers.RandomZoom]:
        return self._step(keras.layers.RandomZoom)

    @property
    def contrast(self) -> Optional[keras.layers.RandomContrast]:
        return self._step(keras.layers.RandomContrast)

    def call(self, images, training=True):
        if not training:
            return images
        if self.rotation is None and self.zoom is None:
            if self.flip is not None:  # a flip alone moves whole pixels: the layer's own flip is cheaper than a warp
                images = self.flip(images, training=True)
        else:
            images = keras.ops.image.affine_transform(images, self._matrix(images), interpolation=INTERPOLATION,
                                                      fill_mode=FILL_MODE)
        if self.contrast is not None:
            images = self._contrast(images)
        return images

    def _matrix(self, images) -> tf.Tensor:
        """[B, 8] rows of the output-to-input map that flip, then rotation, then zoom make together.

        Each layer's matrix maps its output pixel to the pixel of its input it samples, so the composite is
        flip @ rotation @ zoom."""
        shape = tf.shape(images)
        batch, height, width = shape[0], tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
        matrix = tf.eye(3, batch_shape=[batch])
        if self.flip is not None:
            flips = self.flip.get_random_transformation(images, training=True)["flips"]
            matrix = matrix @ _flip_matrix(tf.reshape(flips, [batch]), self.flip.mode, height, width)
        if self.rotation is not None:
            rotation = self.rotation.get_random_transformation(images, training=True)["rotation_matrix"]
            matrix = matrix @ _square(tf.reshape(tf.cast(rotation, tf.float32), [batch, 8]))
        if self.zoom is not None:
            drawn = self.zoom.get_random_transformation(images, training=True)
            matrix = matrix @ _zoom_matrix(drawn["width_zoom"], drawn["height_zoom"], height, width)
        matrix = matrix / matrix[:, 2:3, 2:3]
        return tf.reshape(matrix, [batch, 9])[:, :8]

    def _contrast(self, images):
        """RandomContrast's (x - mean) * factor + mean, clipped, as x * factor + mean * (1 - factor): one pass
        fewer over the batch."""
        factor = self.contrast.get_random_transformation(images, training=True)["contrast_factor"]
        factor = tf.cast(factor, images.dtype)
        mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
        low, high = self.contrast.value_range
        return tf.clip_by_value(images * factor + mean * (1.0 - factor), low, high)


def _square(rows: tf.Tensor) -> tf.Tensor:
    """[B, 8] projective rows (a0 a1 a2 b0 b1 b2 c0 c1) as [B, 3, 3] matrices."""
    return tf.reshape(tf.concat([rows, tf.ones_like(rows[:, :1])], axis=1), [-1, 3, 3])


def _flip_matrix(flips: tf.Tensor, mode: str, height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    # RandomFlip draws one coin per image; horizontal_and_vertical flips both axes on that one coin.
    sign = tf.where(flips, -1.0, 1.0)
    one, zero = tf.ones_like(sign), tf.zeros_like(sign)
    sx, sy = (sign, one) if mode == "horizontal" else (one, sign) if mode == "vertical" else (sign, sign)
    tx, ty = (1.0 - sx) / 2.0 * (width - 1.0), (1.0 - sy) / 2.0 * (height - 1.0)
    return _square(tf.stack([sx, zero, tx, zero, sy, ty, zero, zero], axis=1))


def _zoom_matrix(width_zoom: tf.Tensor, height_zoom: tf.Tensor, height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    # RandomZoom's matrix: scale about the image centre.
    zx, zy = tf.cast(tf.reshape(width_zoom, [-1]), tf.float32), tf.cast(tf.reshape(height_zoom, [-1]), tf.float32)
    zero = tf.zeros_like(zx)
    return _square(tf.stack([zx, zero, (width - 1.0) / 2.0 * (1.0 - zx), zero, zy, (height - 1.0) / 2.0 * (1.0 - zy),
                             zero, zero], axis=1))
