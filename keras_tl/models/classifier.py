"""Build the image classifier as one flat Keras graph: input -> preprocessing -> base layers -> head.

Flat (the base's layers sit directly in our model, not as a nested sub-model) because TFMOT can only prune and
quantize flat graphs, and because freezing by layer name then needs no special cases.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import keras

from keras_tl.config.schema import ModelConfig
from keras_tl.errors import KerasTLError, ModelError
from keras_tl.models.head import HEAD_PREFIX, classification_head, pool
from keras_tl.models.preprocessing import add_preprocessing
from keras_tl.models.registry import BackboneSpec, get_backbone
from keras_tl.models.vision_transformer_base import (build_transformer_features, check_transformer_config,
                                                     transformer_input_size)
from keras_tl.models.vision_transformers import is_transformer
from keras_tl.models.weights import copy_base_weights, weights_source

IMAGE_INPUT = "image"
OFFLINE_IMAGENET_BASE = "model.backbone: efficientnet_lite0"


def input_size(cfg: ModelConfig) -> int:
    spec = get_backbone(cfg.backbone)
    if is_transformer(spec):
        return transformer_input_size(spec, cfg)
    size = cfg.input_size or spec.default_size
    if size < spec.min_size:
        raise ModelError(f"model.input_size={size} is too small for {spec.name}: it needs at least {spec.min_size}px")
    return size


def check_model_config(cfg: ModelConfig, *, fetch_weights: bool = True) -> None:
    """Fail fast on what would only fail at build time: unknown backbone, size, alpha, missing weights file or
    ImageNet weights that cannot be downloaded."""
    if not cfg.uses_image:
        return
    spec = get_backbone(cfg.backbone)
    if is_transformer(spec):
        check_transformer_config(spec, cfg, fetch_weights=fetch_weights)
        return
    if cfg.pooling == "cls":
        raise ModelError(f"model.pooling: cls (the class token) applies to transformer bases, not {spec.name}; "
                         "use avg or max")
    size = input_size(cfg)
    if cfg.alpha is not None and not spec.supports_alpha:
        raise ModelError(f"model.alpha only applies to MobileNet backbones, not {spec.name}")
    if weights_source(cfg.weights) == "imagenet" and fetch_weights:
        # Built once with its weights now, before any data is scanned: the download keras.applications (or the
        # packaged fetch) does, so an offline machine learns it at once and the real build finds them cached.
        _construct(spec, size, weights="imagenet", input_shape=(size, size, 3), **_constructor_kwargs(spec, cfg))


def build_image_features(cfg: ModelConfig, image: keras.KerasTensor) -> keras.KerasTensor:
    """Preprocessing + base + pooling on ``image`` (raw 0-255 RGB); returns the pooled feature vector."""
    spec = get_backbone(cfg.backbone)
    if is_transformer(spec):
        return build_transformer_features(spec, cfg, image)
    size = input_size(cfg)
    check_model_config(cfg, fetch_weights=False)  # the build below fetches them
    kwargs = _constructor_kwargs(spec, cfg)
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


def _constructor_kwargs(spec: BackboneSpec, cfg: ModelConfig) -> dict:
    kwargs = dict(spec.constructor_kwargs)
    if cfg.alpha is not None:
        kwargs["alpha"] = cfg.alpha
    return kwargs


def _construct(spec: BackboneSpec, size: int, *, weights, **kwargs) -> keras.Model:
    try:
        with warnings.catch_warnings():
            # MobileNets at a size without its own ImageNet weights load the 224px ones, which is what we want.
            warnings.filterwarnings("ignore", message="`input_shape` is undefined or non-square")
            return spec.constructor(include_top=False, weights=weights, **kwargs)
    except ValueError as err:
        raise ModelError(f"cannot build {spec.name} at {size}px: {str(err).splitlines()[0]}") from None
    except KerasTLError:
        raise  # a builder of ours (packaged ImageNet weights) already said what went wrong
    except Exception as err:  # noqa: BLE001 - keras.utils.get_file raises a bare Exception when offline
        if weights == "imagenet":
            raise ModelError(f"could not download the ImageNet weights of {spec.name} "
                             f"({str(err).splitlines()[0][:160]}); offline, use {OFFLINE_IMAGENET_BASE} (real "
                             "ImageNet weights that pip fetches) or a local file (model.weights: PATH to a "
                             ".weights.h5 or .keras file)") from None
        raise
