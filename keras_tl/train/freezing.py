"""Which layers train in each phase. BatchNorm layers of the base never train: their ImageNet statistics are
what the pretrained weights expect, and Keras 3 would update them in training mode once the base is trainable.
Transformer bases have LayerNorm instead, which keeps no statistics: it trains with the blocks it sits in."""

from __future__ import annotations

import difflib
import math
import re
from typing import Optional, Union

import keras

from keras_tl.errors import ModelError
from keras_tl.models import base_layers, get_backbone, text_encoder_blocks, text_encoder_layers
from keras_tl.models.vision_transformer_base import block_boundary
from keras_tl.models.vision_transformers import is_transformer


def freeze_base(model: keras.Model) -> None:
    """Phase 1: only our own layers (head, projections) train; the image base and the text encoder are frozen."""
    for layer in base_layers(model) + text_encoder_layers(model):
        layer.trainable = False


def unfreeze_top(model: keras.Model, fine_tune_from: Optional[Union[int, str]], backbone: str) -> list[keras.layers.Layer]:
    """Phase 2: unfreeze the base from the boundary to the top, BatchNorm excluded. Returns the unfrozen layers."""
    layers = base_layers(model)
    if not layers:  # a text-only model has no image base
        return []
    spec = get_backbone(backbone)
    boundary = fine_tune_from if fine_tune_from is not None else spec.fine_tune_from
    if is_transformer(spec) and isinstance(boundary, int):  # a transformer's boundary counts blocks, not layers
        start = block_boundary(spec, layers, boundary)
    else:
        start = boundary_index(layers, boundary)
    unfrozen = []
    for i, layer in enumerate(layers):
        trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable
        if trainable and layer.weights:
            unfrozen.append(layer)
    return unfrozen


def unfreeze_text_top(model: keras.Model, num_blocks: int) -> list[keras.layers.Layer]:
    """Phase 2: unfreeze the top ``num_blocks`` transformer blocks of the text encoder (more than it has: all
    of it, embeddings included). Returns the unfrozen layers that hold weights."""
    blocks = text_encoder_blocks(model)
    chosen = text_encoder_layers(model) if num_blocks > len(blocks) else blocks[len(blocks) - num_blocks:]
    chosen = list({id(layer): layer for layer in chosen}.values())  # ALBERT applies one block several times
    for layer in chosen:
        layer.trainable = True
    return [layer for layer in chosen if layer.weights]


def unfreeze_for_fine_tuning(model: keras.Model, config) -> tuple[list, list]:
    """Phase 2's trainable set for an ExperimentConfig: (unfrozen image-base layers, unfrozen text layers)."""
    image = unfreeze_top(model, config.train.phase2.fine_tune_from, config.model.backbone)
    text = unfreeze_text_top(model, config.text.fine_tune_layers) if config.model.uses_text else []
    return image, text


def trainable_per_phase(model: keras.Model, config) -> tuple[int, int]:
    """Trainable parameters in phase 1 and phase 2; leaves the model frozen as in phase 2 (where training ends)."""
    freeze_base(model)
    phase1 = _count(model.trainable_weights)
    unfreeze_for_fine_tuning(model, config)
    return phase1, _count(model.trainable_weights)


def _count(weights) -> int:
    return int(sum(math.prod(w.shape) for w in weights))


def boundary_index(layers: list[keras.layers.Layer], fine_tune_from: Union[int, str]) -> int:
    """Index of the first base layer to unfreeze: the top N layers (int) or the first layer of a named block."""
    if isinstance(fine_tune_from, int):  # never negative: the schema refuses that
        return max(len(layers) - fine_tune_from, 0)
    pattern = re.compile(rf"^{re.escape(fine_tune_from)}($|[^0-9A-Za-z])")
    for i, layer in enumerate(layers):
        if pattern.match(layer.name):
            return i
    names = [layer.name for layer in layers]
    close = difflib.get_close_matches(fine_tune_from, names, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise ModelError(f"train.phase2.fine_tune_from='{fine_tune_from}' names no layer or block of the base{hint}")
