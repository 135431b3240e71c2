"""Each encoder family's embedding stack, rebuilt in our graph from keras-hub's layers with the checkpoint's weights.

BERT and ALBERT add token, position and segment embeddings (every token in segment 0: one text per example, so the
segment ids are not a model input); DistilBERT, RoBERTa and XLM-RoBERTa add token and position embeddings only.
ALBERT's embeddings are narrower than its blocks and are projected up to their width.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import keras
import numpy as np

from keras_tl.errors import ModelError

SEGMENTED = ("bert", "albert")


def build_embeddings(source, family: str, prefix: str, token_ids: keras.KerasTensor, checkpoint: Union[Path, str]
                     ) -> tuple[keras.KerasTensor, list[tuple[keras.layers.Layer, list]]]:
    """(embedded tokens [batch, length, hidden], (our layer, its weights) pairs to assign once built)."""
    import keras_hub

    token_source, position_source = _token_and_position(source, family)
    token_weights = token_source.get_weights()[:1]  # a tied reversible embedding holds just the table
    token_embedding = keras.layers.Embedding(token_weights[0].shape[0], token_weights[0].shape[1],
                                             name=f"{prefix}token_embedding")
    position_embedding = keras_hub.layers.PositionEmbedding(source.max_sequence_length,
                                                           name=f"{prefix}position_embedding")
    position_weights = position_source.get_weights()
    if family == "roberta":
        position_weights = [position_weights[0] + _roberta_token_type(checkpoint, position_weights[0].shape[1])]
    tokens = token_embedding(token_ids)
    summed = [tokens, position_embedding(tokens)]
    copies = [(token_embedding, token_weights), (position_embedding, position_weights)]
    if family in SEGMENTED:
        segment_source = source.get_layer("segment_embedding")
        segment_embedding = keras.layers.Embedding(source.num_segments, token_weights[0].shape[1],
                                                   name=f"{prefix}segment_embedding")
        summed.append(segment_embedding(keras.ops.zeros_like(token_ids)))
        copies.append((segment_embedding, segment_source.get_weights()))
    norm_source = source.get_layer("embeddings_layer_norm")
    norm = keras.layers.LayerNormalization(epsilon=norm_source.epsilon, name=f"{prefix}embeddings_layer_norm")
    copies.append((norm, norm_source.get_weights()))
    x = keras.layers.Add(name=f"{prefix}embeddings_add")(summed)
    x = keras.layers.Dropout(source.dropout, name=f"{prefix}embeddings_dropout")(norm(x))
    if family == "albert":
        projection_source = source.get_layer("embedding_projection")
        projection = keras.layers.Dense(source.hidden_dim, name=f"{prefix}embedding_projection")
        x = projection(x)
        copies.append((projection, projection_source.get_weights()))
    return x, copies


def _token_and_position(source, family: str):
    if family in SEGMENTED:
        return source.get_layer("token_embedding"), source.get_layer("position_embedding")
    return source.embeddings.token_embedding, source.embeddings.position_embedding  # TokenAndPositionEmbedding


def _roberta_token_type(checkpoint: Union[Path, str], width: int) -> np.ndarray:
    """Row 0 of a Hugging Face RoBERTa's token-type table, which it adds to every token (type ids are all 0) and
    keras-hub's converter leaves out: zero in roberta-base, trained in checkpoints fine-tuned from it."""
    folder = Path(checkpoint)
    if not (folder / "config.json").is_file() or not list(folder.glob("*.safetensors")):
        return np.zeros((width,), "float32")  # a keras-hub preset folder has no token-type table
    from safetensors import safe_open

    for path in sorted(folder.glob("*.safetensors")):
        with safe_open(str(path), framework="np") as tensors:
            for key in tensors.keys():
                if key.endswith("embeddings.token_type_embeddings.weight"):
                    table = tensors.get_tensor(key)
                    if table.ndim != 2 or table.shape[1] != width:
                        raise ModelError(f"{path.name}: {key} has shape {table.shape}, expected [n, {width}]")
                    return table[0].astype("float32")
    return np.zeros((width,), "float32")
