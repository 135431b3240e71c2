"""The text tower: a checkpoint's transformer encoder inside our graph, pooled to one feature vector per text.

keras-hub's ``<Family>Backbone.from_preset`` reads the checkpoint (a Hugging Face folder with safetensors, a
keras-hub preset folder or a preset name) for BERT, DistilBERT, RoBERTa, XLM-RoBERTa and ALBERT
(``text.encoder``). Its layers are then rebuilt directly in our model, named ``tl_<family>_*`` (``tl_bert_*``,
``tl_roberta_*``, ...) so that ``base_layers()`` keeps meaning the image base, from keras-hub's own layers and with
the checkpoint's weights (text_embeddings.py builds each family's embeddings). Every family takes the same two
inputs, ``token_ids`` and ``padding_mask``.

One thing changes: the activation. keras-hub hard-codes one GELU per family (the tanh approximation for BERT and
ALBERT), while each checkpoint names the one it was trained with (``hidden_act`` in its config.json): BERT's
exact GELU moves MiniLM-L6's mean-pooled embedding by 1e-3 from the tanh approximation. The exact GELU is written
with ``erf`` because TensorFlow's own exact GELU uses ``Erfc``, which tf2onnx cannot convert (``erf`` converts to
both TFLite builtins and ONNX).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Union

import keras

from keras_tl.config.schema import TextConfig
from keras_tl.errors import ModelError
from keras_tl.models.text_embeddings import build_embeddings
from keras_tl.text_checkpoint import TEXT_FAMILIES, TextFamily, resolve_text_weights, text_family

TEXT_PREFIXES = tuple(f"tl_{name}_" for name in TEXT_FAMILIES)
TEXT_FEATURES_LAYER = "tl_text_pool"
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@keras.saving.register_keras_serializable(package="keras_tl")
def gelu_erf(x):
    """Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as BERT was trained with."""
    return 0.5 * x * (1.0 + keras.ops.erf(x * _INV_SQRT2))


@keras.saving.register_keras_serializable(package="keras_tl")
def gelu_tanh(x):
    """GELU's tanh approximation (Hugging Face's gelu_new), as ALBERT was trained with."""
    return 0.5 * x * (1.0 + keras.ops.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))


# Hugging Face's names (config.json hidden_act, DistilBERT's activation) for the activations we can export.
ACTIVATIONS = {"gelu": gelu_erf, "gelu_new": gelu_tanh, "gelu_pytorch_tanh": gelu_tanh, "gelu_fast": gelu_tanh,
               "relu": "relu"}
# keras-hub presets carry no activation name: each family's own (ALBERT: the approximation; the rest exact).
DEFAULT_ACTIVATION = {"albert": "gelu_new"}


def load_text_backbone(weights: str, encoder: str = "auto"):
    """(family, the checkpoint as its keras-hub backbone with weights loaded, the resolved checkpoint)."""
    import keras_hub

    source = resolve_text_weights(weights)
    family = text_family(source, encoder)
    backbone_class = getattr(keras_hub.models, family.backbone)
    try:
        backbone = backbone_class.from_preset(str(source))
    except Exception as err:  # noqa: BLE001 - offline downloads, foreign folders: one line for the user
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"cannot load a {family.name} encoder from text.weights={weights!r} ({source}): "
                         f"{first[:200]}") from None
    if not isinstance(backbone, backbone_class):
        raise ModelError(f"text.weights={weights!r} is a {type(backbone).__name__}, not a {family.name} checkpoint")
    return family, backbone, source


def build_text_features(cfg: TextConfig, token_ids: keras.KerasTensor, padding_mask: keras.KerasTensor
                        ) -> keras.KerasTensor:
    """Encoder + pooling on (token_ids, padding_mask); returns the [batch, hidden] text features."""
    import keras_hub

    family, source, checkpoint = load_text_backbone(cfg.weights, cfg.encoder)
    if cfg.max_length > source.max_sequence_length:
        raise ModelError(f"text.max_length={cfg.max_length} is longer than the encoder's "
                         f"{source.max_sequence_length} positions")
    prefix = f"tl_{family.name}_"
    x, copies = build_embeddings(source, family.name, prefix, token_ids, checkpoint)
    activation = _activation(checkpoint, family)
    shared, order = _source_blocks(source, family)
    blocks = []
    for i, block in enumerate(shared):
        config = {**block.get_config(), "activation": activation, "name": f"{prefix}layer_{i}"}
        blocks.append(keras_hub.layers.TransformerEncoder.from_config(config))
    for index in order:  # ALBERT calls its shared blocks again and again
        x = blocks[index](x, padding_mask=padding_mask)
    for layer, weights in copies + [(ours, theirs.get_weights()) for ours, theirs in zip(blocks, shared)]:
        layer.set_weights(weights)
    return _pool(x, padding_mask, cfg.pooling, cfg.max_length)


def _source_blocks(source, family: TextFamily) -> tuple[list, list[int]]:
    """(the distinct transformer blocks, the index of the block each layer applies, bottom to top)."""
    if family.name != "albert":
        return list(source.transformer_layers), list(range(len(source.transformer_layers)))
    groups = source.transformer_layers  # ALBERT: num_groups lists of num_inner_repetitions blocks
    per_group = source.num_layers // source.num_groups
    shared = [block for group in groups for block in group]
    width = len(groups[0])
    order = [g * width + j for g in range(len(groups)) for _ in range(per_group) for j in range(width)]
    return shared, order


def _activation(checkpoint: Union[Path, str], family: TextFamily):
    name = DEFAULT_ACTIVATION.get(family.name, "gelu")
    config_file = Path(checkpoint) / "config.json" if isinstance(checkpoint, Path) else None
    if config_file is not None and config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        if "model_type" in config:  # Hugging Face: the checkpoint names its activation
            name = str(config.get("hidden_act", config.get("activation", name)))
    if name not in ACTIVATIONS:
        raise ModelError(f"the text encoder's activation {name!r} is not supported; keras_tl exports "
                         f"{', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _pool(sequence: keras.KerasTensor, padding_mask: keras.KerasTensor, pooling: str, length: int
          ) -> keras.KerasTensor:
    if pooling == "mean":
        mask = keras.ops.cast(padding_mask, "bool")
        return keras.layers.GlobalAveragePooling1D(name=TEXT_FEATURES_LAYER)(sequence, mask=mask)
    first = keras.layers.Cropping1D((0, length - 1), name="tl_text_cls")(sequence)  # the [CLS] / <s> position
    return keras.layers.Flatten(name=TEXT_FEATURES_LAYER)(first)


def text_encoder_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The text encoder's layers inside ``model``, in graph order (empty for image-only models)."""
    return [layer for layer in model.layers if layer.name.startswith(TEXT_PREFIXES)]


def text_encoder_blocks(model: keras.Model) -> list[keras.layers.Layer]:
    """The transformer blocks, bottom to top: one entry per layer of the encoder, so ALBERT's shared block comes
    once for every time it is applied (and unfreezing "the top N layers" unfreezes the blocks those apply)."""
    blocks = [layer for layer in text_encoder_layers(model)
              if any(layer.name.startswith(f"{prefix}layer_") for prefix in TEXT_PREFIXES)]
    return [block for block in blocks for _ in range(max(1, len(getattr(block, "_inbound_nodes", ()))))]


def text_encoder_family(model: keras.Model) -> str:
    """The family of ``model``'s text encoder (bert, roberta, ...); empty for image-only models."""
    for layer in text_encoder_layers(model):
        for name in TEXT_FAMILIES:
            if layer.name.startswith(f"tl_{name}_"):
                return name
    return ""
