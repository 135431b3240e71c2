"""One builder for image-only, text-only and image+text models (``model.modality``).

Image+text follows the seed recipe: the image base's pooled features and the text encoder's features are each
projected to a common width (``text.projection_units``), fused by concatenation or a learned gate, and classified
by the usual head. Inputs are named ("image", "token_ids", "padding_mask") and every exported artifact keeps them.
"""

from __future__ import annotations

import keras

from keras_tl.config.schema import ExperimentConfig
from keras_tl.data.tokenizer import PADDING_MASK_INPUT, TOKEN_IDS_INPUT
from keras_tl.models.classifier import IMAGE_INPUT, build_classifier, build_image_features, input_size
from keras_tl.models.head import classification_head
from keras_tl.models.registry import get_backbone
from keras_tl.models.text_tower import build_text_features
from keras_tl.text_checkpoint import resolve_text_weights, text_family

FUSION_LAYER = "tl_fusion"


def build_model(config: ExperimentConfig, num_classes: int) -> keras.Model:
    """The model ``config.model.modality`` asks for; image-only models are exactly ``build_classifier``'s."""
    m, t = config.model, config.text
    if not m.uses_text:
        return build_classifier(m, num_classes)
    inputs: dict[str, keras.KerasTensor] = {}
    projected = []
    if m.uses_image:
        size = input_size(m)
        inputs[IMAGE_INPUT] = keras.Input((size, size, 3), name=IMAGE_INPUT)
        projected.append(_project(build_image_features(m, inputs[IMAGE_INPUT]), t.projection_units, "image"))
    inputs[TOKEN_IDS_INPUT] = keras.Input((t.max_length,), dtype="int32", name=TOKEN_IDS_INPUT)
    inputs[PADDING_MASK_INPUT] = keras.Input((t.max_length,), dtype="int32", name=PADDING_MASK_INPUT)
    text = build_text_features(t, inputs[TOKEN_IDS_INPUT], inputs[PADDING_MASK_INPUT])
    projected.append(_project(text, t.projection_units, "text"))
    features = _fuse(*projected, t.fusion) if len(projected) == 2 else projected[0]
    outputs = classification_head(features, num_classes, dropout=m.dropout, hidden_units=m.hidden_units,
                                  multi_label=m.multi_label)
    family = text_family(resolve_text_weights(t.weights), t.encoder).name
    name = f"keras_tl_{get_backbone(m.backbone).name}_{family}" if m.uses_image else f"keras_tl_{family}"
    return keras.Model(inputs, outputs, name=name)


def model_input_names(model: keras.Model) -> list[str]:
    """The names of the model's inputs, e.g. ["image"] or ["image", "token_ids", "padding_mask"]."""
    return [tensor.name for tensor in model.inputs]


def _project(features: keras.KerasTensor, units: int, modality: str) -> keras.KerasTensor:
    return keras.layers.Dense(units, activation="relu", name=f"tl_{modality}_projection")(features)


def _fuse(image: keras.KerasTensor, text: keras.KerasTensor, fusion: str) -> keras.KerasTensor:
    if fusion == "concat":
        return keras.layers.Concatenate(name=FUSION_LAYER)([image, text])
    # Gated sum: a per-unit gate g (from both projections) picks g*image + (1-g)*text, written as
    # text + g*(image - text) so that it needs only standard layers.
    gate = keras.layers.Dense(image.shape[-1], activation="sigmoid", name="tl_fusion_gate")(
        keras.layers.Concatenate(name="tl_fusion_gate_inputs")([image, text]))
    difference = keras.layers.Subtract(name="tl_fusion_difference")([image, text])
    gated = keras.layers.Multiply(name="tl_fusion_gated")([gate, difference])
    return keras.layers.Add(name=FUSION_LAYER)([text, gated])
