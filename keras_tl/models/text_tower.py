"""The BERT text tower: a checkpoint's BERT encoder inside our graph, pooled to one feature vector per text.

keras-hub's ``BertBackbone.from_preset`` reads the checkpoint (a Hugging Face folder with safetensors, a keras-hub
preset folder or a preset name). Its layers are then rebuilt directly in our model, named ``tl_bert_*`` so that
``base_layers()`` keeps meaning the image base, from keras-hub's own blocks and with the checkpoint's weights.
One thing changes: the activation. BertBackbone hard-codes the tanh approximation of GELU, while BERT checkpoints
were trained with the exact GELU; the approximation moves MiniLM-L6's mean-pooled embedding by 1e-3 from the
reference implementation. The exact GELU is written with ``erf`` because TensorFlow's own exact GELU uses
``Erfc``, which tf2onnx cannot convert (``erf`` converts to both TFLite builtins and ONNX).
"""

from __future__ import annotations

import math

import keras

from keras_tl.config.schema import TextConfig
from keras_tl.errors import ModelError
from keras_tl.text_checkpoint import resolve_text_weights

BERT_PREFIX = "tl_bert_"
BERT_BLOCK_PREFIX = "tl_bert_layer_"
TEXT_FEATURES_LAYER = "tl_text_pool"
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@keras.saving.register_keras_serializable(package="keras_tl")
def gelu_erf(x):
    """Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as BERT was trained with."""
    return 0.5 * x * (1.0 + keras.ops.erf(x * _INV_SQRT2))


def load_bert_backbone(weights: str):
    """The checkpoint as a keras-hub BertBackbone (weights loaded)."""
    import keras_hub

    source = resolve_text_weights(weights)
    try:
        backbone = keras_hub.models.BertBackbone.from_preset(str(source))
    except Exception as err:  # noqa: BLE001 - offline downloads, foreign folders: one line for the user
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"cannot load a BERT encoder from text.weights={weights!r} ({source}): "
                         f"{first[:200]}") from None
    if not isinstance(backbone, keras_hub.models.BertBackbone):
        raise ModelError(f"text.weights={weights!r} is a {type(backbone).__name__}, not a BERT checkpoint")
    return backbone


def build_text_features(cfg: TextConfig, token_ids: keras.KerasTensor, padding_mask: keras.KerasTensor
                        ) -> keras.KerasTensor:
    """BERT encoder + pooling on (token_ids, padding_mask); returns the [batch, hidden] text features."""
    import keras_hub

    source = load_bert_backbone(cfg.weights)
    if cfg.max_length > source.max_sequence_length:
        raise ModelError(f"text.max_length={cfg.max_length} is longer than the encoder's "
                         f"{source.max_sequence_length} positions")
    hidden, dropout = source.hidden_dim, source.dropout
    token_embedding = keras.layers.Embedding(source.vocabulary_size, hidden, name=f"{BERT_PREFIX}token_embedding")
    position_embedding = keras_hub.layers.PositionEmbedding(source.max_sequence_length,
                                                           name=f"{BERT_PREFIX}position_embedding")
    segment_embedding = keras.layers.Embedding(source.num_segments, hidden, name=f"{BERT_PREFIX}segment_embedding")
    embeddings_norm = keras.layers.LayerNormalization(epsilon=1e-12, name=f"{BERT_PREFIX}embeddings_layer_norm")
    blocks = [keras_hub.layers.TransformerEncoder(
        num_heads=source.num_heads, intermediate_dim=source.intermediate_dim, activation=gelu_erf, dropout=dropout,
        layer_norm_epsilon=1e-12, name=f"{BERT_BLOCK_PREFIX}{i}") for i in range(source.num_layers)]

    tokens = token_embedding(token_ids)
    # One text per example: every token is in segment 0, so the segment ids are not a model input.
    segments = segment_embedding(keras.ops.zeros_like(token_ids))
    x = keras.layers.Add(name=f"{BERT_PREFIX}embeddings_add")([tokens, position_embedding(tokens), segments])
    x = keras.layers.Dropout(dropout, name=f"{BERT_PREFIX}embeddings_dropout")(embeddings_norm(x))
    for block in blocks:
        x = block(x, padding_mask=padding_mask)

    pairs = [(token_embedding, "token_embedding"), (position_embedding, "position_embedding"),
             (segment_embedding, "segment_embedding"), (embeddings_norm, "embeddings_layer_norm")]
    pairs += [(block, f"transformer_layer_{i}") for i, block in enumerate(blocks)]
    for layer, source_name in pairs:
        layer.set_weights(source.get_layer(source_name).get_weights())
    return _pool(x, padding_mask, cfg.pooling, cfg.max_length)


def _pool(sequence: keras.KerasTensor, padding_mask: keras.KerasTensor, pooling: str, length: int
          ) -> keras.KerasTensor:
    if pooling == "mean":
        mask = keras.ops.cast(padding_mask, "bool")
        return keras.layers.GlobalAveragePooling1D(name=TEXT_FEATURES_LAYER)(sequence, mask=mask)
    first = keras.layers.Cropping1D((0, length - 1), name="tl_text_cls")(sequence)  # the [CLS] position
    return keras.layers.Flatten(name=TEXT_FEATURES_LAYER)(first)


def text_encoder_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The BERT encoder's layers inside ``model``, in graph order (empty for image-only models)."""
    return [layer for layer in model.layers if layer.name.startswith(BERT_PREFIX)]


def text_encoder_blocks(model: keras.Model) -> list[keras.layers.Layer]:
    """The transformer blocks, bottom to top."""
    return [layer for layer in text_encoder_layers(model) if layer.name.startswith(BERT_BLOCK_PREFIX)]
