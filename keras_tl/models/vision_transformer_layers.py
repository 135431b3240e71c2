"""keras-hub's ViT, DeiT, DINOv2 and MetaCLIP 2 (image tower) layers, with three changes that a flat, saved and
exported keras_tl model needs.

- keras-hub keeps every transformer block inside one encoder layer; we put the blocks into our graph one by one,
  so that phase 2 can unfreeze the top N of them and the export sees a flat graph.
- Their MLPs use Keras' exact GELU, which TensorFlow computes with ``Erfc``: tf2onnx cannot convert that op (it
  leaves it in the ONNX graph, which then fails to run). The blocks here use ``gelu_erf``, the same function
  written with ``erf``, which both TFLite and ONNX convert.
- Some of keras-hub's layer configs carry derived values that their constructors refuse (``num_patches``,
  ``key_dim``), so a model holding them could not be loaded again; the configs here hold constructor arguments only.

Importing this module imports keras-hub; ``keras_tl.models.io`` imports it only for models that contain these layers.
"""

from __future__ import annotations

import keras
from keras_hub.src.models.deit.deit_layers import DeiTEmbeddings, DeiTEncoderBlock
from keras_hub.src.models.dinov2.dinov2_layers import DINOV2Embedding, DINOV2Layer
from keras_hub.src.models.metaclip_2.metaclip_2_layers import MetaCLIP2EncoderLayer, MetaCLIP2VisionEmbedding
from keras_hub.src.models.vit.vit_layers import ViTEncoderBlock, ViTPatchingAndEmbedding

from keras_tl.models.text_tower import gelu_erf


def _without(config: dict, *derived: str) -> dict:
    return {key: value for key, value in config.items() if key not in derived}


@keras.saving.register_keras_serializable(package="keras_tl")
class ViTEmbedding(ViTPatchingAndEmbedding):
    def get_config(self):
        config = _without(super().get_config(), "num_patches", "num_positions")
        return {**config, "use_patch_bias": self.use_patch_bias}


@keras.saving.register_keras_serializable(package="keras_tl")
class ViTBlock(ViTEncoderBlock):
    def build(self, input_shape):
        super().build(input_shape)
        self.mlp.dense_1.activation = gelu_erf

    def get_config(self):
        return _without(super().get_config(), "key_dim")


@keras.saving.register_keras_serializable(package="keras_tl")
class DeiTEmbedding(DeiTEmbeddings):
    def get_config(self):
        return _without(super().get_config(), "num_patches", "num_positions")


@keras.saving.register_keras_serializable(package="keras_tl")
class DeiTBlock(DeiTEncoderBlock):
    def build(self, input_shape):
        super().build(input_shape)
        self.mlp.dense.activation = gelu_erf

    def call(self, inputs):
        # keras-hub's block also returns its attention scores (None unless asked): one output in a functional graph.
        return super().call(inputs)[0]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return _without(super().get_config(), "key_dim")


@keras.saving.register_keras_serializable(package="keras_tl")
class DINOv2Embedding(DINOV2Embedding):
    """Saves the position embeddings at the model's input size as they are. keras-hub's layer stores them resized
    back to the checkpoint's size and resizes them again on load, which changes fine-tuned values (bicubic twice)."""

    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)


@keras.saving.register_keras_serializable(package="keras_tl")
class DINOv2Block(DINOV2Layer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.use_swiglu_ffn:  # SwiGLU (the giant model) uses SiLU, which converts everywhere
            self.mlp.fc1.activation = gelu_erf


@keras.saving.register_keras_serializable(package="keras_tl")
class MetaCLIP2Embedding(MetaCLIP2VisionEmbedding):
    """keras-hub's layer is not registered for deserialisation; the subclass is."""


@keras.saving.register_keras_serializable(package="keras_tl")
class MetaCLIP2Block(MetaCLIP2EncoderLayer):
    def build(self, input_shape):
        super().build(input_shape)
        if self.intermediate_activation == "gelu":  # quick_gelu (sigmoid) converts everywhere as it is
            self.activation.activation = gelu_erf
