"""Backbone registry, in-model preprocessing, weights loading, head and the flat classifier builder."""

from keras_tl.models.classifier import (
    IMAGE_INPUT,
    base_layers,
    build_classifier,
    build_image_features,
    check_model_config,
    input_size,
)
from keras_tl.models.io import load_trained_model, save_model_atomically
from keras_tl.models.head import FEATURES_LAYER, HEAD_PREFIX, PREDICTIONS_LAYER, classification_head, pool
from keras_tl.models.multimodal import FUSION_LAYER, build_model, model_input_names
from keras_tl.models.preprocessing import ChannelReverse, add_preprocessing
from keras_tl.models.registry import BackboneSpec, get_backbone, list_backbones, register_backbone
from keras_tl.models.text_tower import (TEXT_FEATURES_LAYER, gelu_erf, gelu_tanh, text_encoder_blocks,
                                       text_encoder_family, text_encoder_layers)
from keras_tl.models.weights import assign_weights, copy_base_weights, weights_source

__all__ = [
    "FEATURES_LAYER",
    "FUSION_LAYER",
    "HEAD_PREFIX",
    "IMAGE_INPUT",
    "PREDICTIONS_LAYER",
    "TEXT_FEATURES_LAYER",
    "BackboneSpec",
    "ChannelReverse",
    "add_preprocessing",
    "assign_weights",
    "base_layers",
    "build_classifier",
    "build_image_features",
    "build_model",
    "check_model_config",
    "classification_head",
    "copy_base_weights",
    "gelu_erf",
    "gelu_tanh",
    "get_backbone",
    "input_size",
    "list_backbones",
    "load_trained_model",
    "model_input_names",
    "pool",
    "register_backbone",
    "save_model_atomically",
    "text_encoder_blocks",
    "text_encoder_family",
    "text_encoder_layers",
    "weights_source",
]
