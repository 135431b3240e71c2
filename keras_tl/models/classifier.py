"""Build the image classifier as one flat Keras graph: input -> preprocessing -> base layers -> head.

Flat (the base's layers sit directly in our model, not as a nested sub-model) because TFMOT can only prune and
quantize flat graphs, and because freezing by layer name then needs no special cases.
"""

from __future__ import annotations

from pathlib import Path

import keras

from keras_tl.config.schema import ModelConfig
from keras_tl.errors import ModelError
from keras_tl.models.head import HEAD_PREFIX, classification_head, pool
from keras_tl.models.preprocessing import add_preprocessing
from keras_tl.models.registry import BackboneSpec, get_backbone
from keras_tl.models.weights import copy_base_weights, weights_source

IMAGE_INPUT = "image"


def input_size(cfg: ModelConfig) -> int:
    spec = get_backbone(cfg.backbone)
    size = cfg.input_size or spec.default_size
    if size < spec.min_size:
        raise ModelError(f"model.input_size={size} is too small for {spec.name}: it needs at least {spec.min_size}px")
    return size


def check_model_config(cfg: ModelConfig) -> None:
    """Fail fast on what would only fail at build time: unknown backbone, size, alpha, missing weights file."""
    if not cfg.uses_image:
        return
    spec = get_backbone(cfg.backbone)
    input_size(cfg)
    if cfg.alpha is not None and not spec.supports_alpha:
        raise ModelError(f"model.alpha only applies to MobileNet backbones, not {spec.name}")
    weights_source(cfg.weights)


def build_image_features(cfg: ModelConfig, image: keras.KerasTensor) -> keras.KerasTensor:
    """Preprocessing + base + pooling on ``image`` (raw 0-255 RGB); returns the pooled feature vector."""
    spec = get_backbone(cfg.backbone)
    size = input_size(cfg)
    check_model_config(cfg)
    kwargs = dict(spec.constructor_kwargs)
    if cfg.alpha is not None:
        kwargs["alpha"] = cfg.alpha
    source = weights_source(cfg.weights)
    base = _construct(spec, size, weights="imagenet" if source == "imagenet" else None,
                      input_tensor=add_preprocessing(spec, image), **kwargs)
    if isinstance(source, Path):
        bare = _construct(spec, size, weights=None, input_shape=(size, size, 3), **kwargs)
        copy_base_weights(source, base_layers(base), bare, what=f"backbone {spec.name} at {size}px")
    return pool(base.output, cfg.pooling)


def build_classifier(cfg: ModelConfig, num_classes: int) -> keras.Model:
    size = input_size(cfg)
    image = keras.Input((size, size, 3), name=IMAGE_INPUT)
    features = build_image_features(cfg, image)
    outputs = classification_head(features, num_classes, dropout=cfg.dropout, hidden_units=cfg.hidden_units,
                                  multi_label=cfg.multi_label)
    return keras.Model(image, outputs, name=f"keras_tl_{get_backbone(cfg.backbone).name}")


def base_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The pretrained image base's layers, in graph order (everything that is not ours or an input)."""
    return [layer for layer in model.layers
            if not isinstance(layer, (keras.layers.InputLayer, keras.Model)) and not layer.name.startswith(HEAD_PREFIX)]


def _construct(spec: BackboneSpec, size: int, *, weights, **kwargs) -> keras.Model:
    try:
        return spec.constructor(include_top=False, weights=weights, **kwargs)
    except ValueError as err:
        raise ModelError(f"cannot build {spec.name} at {size}px: {str(err).splitlines()[0]}") from None
    except Exception as err:  # noqa: BLE001 - keras.utils.get_file raises a bare Exception when offline
        if weights == "imagenet":
            raise ModelError(f"could not get ImageNet weights for {spec.name} ({str(err).splitlines()[0][:160]}); "
                             "offline? set model.weights to none or a local file") from None
        raise
