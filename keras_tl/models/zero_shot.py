"""The zero-shot head of a CLIP-like base (train.phase1.head: zeroshot), as CLIP classifies without training.

keras-hub's own MetaCLIP 2 tokenizer, preprocessor and text tower embed each class's prompts (every template with
the class name filled in); each prompt embedding is L2-normalised, averaged per class and normalised again. The
image features are CLIP's L2-normalised image embedding (vision_transformer_base.py), so a Dense layer whose kernel
holds these class embeddings times CLIP's logit scale, with a zero bias, computes CLIP's logits, and its softmax
CLIP's probabilities. The text tower is used only here: the model keeps no text input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_tl.errors import ModelError
from keras_tl.models.vision_transformer_base import check_transformer_config, load_backbone
from keras_tl.models.vision_transformers import TransformerSpec, is_clip

LABEL_FIELD = "{label}"


@dataclass
class ZeroShotHead:
    class_embeddings: np.ndarray  # (classes, projection): L2-normalised, template-averaged
    logit_scale: float  # exp of the checkpoint's learned log scale

    @property
    def kernel(self) -> np.ndarray:
        return (self.class_embeddings.T * self.logit_scale).astype("float32")

    @property
    def bias(self) -> np.ndarray:
        return np.zeros(len(self.class_embeddings), dtype="float32")


def class_prompts(labels: list[str], templates: list[str]) -> list[list[str]]:
    """Per class, its prompts; folder names spell spaces as underscores, prompts as spaces."""
    return [[template.replace(LABEL_FIELD, label.replace("_", " ")) for template in templates] for label in labels]


def zero_shot_head(spec: TransformerSpec, model_cfg, labels: list[str], templates: list[str]) -> ZeroShotHead:
    if not is_clip(spec):
        raise ModelError(f"train.phase1.head: zeroshot needs a base with a text tower (model.backbone: metaclip2), "
                         f"not {spec.name}")
    checkpoint = check_transformer_config(spec, model_cfg, fetch_weights=False)
    source = load_backbone(spec, checkpoint, checkpoint.image_size)
    preprocessor = _preprocessor(spec, checkpoint.source, source)
    prompts = class_prompts(labels, templates)
    flat = [prompt for per_class in prompts for prompt in per_class]
    token_ids = preprocessor({"prompts": flat, "images": None})["token_ids"]
    embeddings = _normalise(np.asarray(source.get_text_embeddings(token_ids), dtype="float64"))
    per_class = embeddings.reshape(len(labels), len(templates), -1).mean(axis=1)
    logit_scale = float(np.exp(np.asarray(source.metaclip_2_head.logit_scale)))
    return ZeroShotHead(_normalise(per_class).astype("float32"), logit_scale)


def _preprocessor(spec: TransformerSpec, preset: str, source):
    import keras_hub

    try:
        tokenizer = keras_hub.models.MetaCLIP2Tokenizer.from_preset(preset)
    except Exception as err:  # noqa: BLE001 - a missing or broken tokenizer file: one line for the user
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"cannot load the {spec.name} tokenizer from model.weights {preset} (a Hugging Face "
                         f"MetaCLIP 2 folder holds sentencepiece.bpe.model): {type(err).__name__}: {first[:160]}"
                         ) from None
    # Prompts are packed to the text tower's positions (77 in CLIP), lower-cased as CLIP's preprocessor does.
    length = source.text_encoder.max_sequence_length
    return keras_hub.models.MetaCLIP2CausalLMPreprocessor(tokenizer, sequence_length=length)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
