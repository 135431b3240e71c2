"""A ViT, DeiT, DINOv2 or MetaCLIP 2 checkpoint as the image base of a flat keras_tl model.

keras-hub's ``<Family>Backbone.from_preset`` reads the checkpoint; its layers are then rebuilt in our graph from
keras-hub's own classes (vision_transformer_layers.py) with the checkpoint's weights: normalisation -> patch
embedding (+ class, distillation or register tokens, + position embeddings) -> blocks ``<name>_block_<i>`` -> the
final LayerNorm -> pooling. The backbone's output is the whole token sequence; ``model.pooling`` picks the features:
``cls`` the class token, ``avg`` / ``max`` the mean / max over the patch tokens (the other tokens left out).
MetaCLIP 2 then applies CLIP's image projection and L2-normalises it (its image embedding).
"""

from __future__ import annotations

from pathlib import Path

import keras

from keras_tl.config.schema import ModelConfig
from keras_tl.errors import KerasTLError, ModelError
from keras_tl.models.head import FEATURES_LAYER
from keras_tl.models.hf_prefixed_copy import readable_by_keras_hub
from keras_tl.models.vision_transformer_checkpoint import Checkpoint, resolve_checkpoint
from keras_tl.models.vision_transformers import TransformerSpec


def transformer_input_size(spec: TransformerSpec, cfg: ModelConfig) -> int:
    """``model.input_size`` when set (checked against the checkpoint when the model is built), else the
    checkpoint's own image size."""
    return cfg.input_size or resolve_checkpoint(spec, cfg.weights).image_size


def check_transformer_config(spec: TransformerSpec, cfg: ModelConfig, *, fetch_weights: bool = True) -> Checkpoint:
    if cfg.alpha is not None:
        raise ModelError(f"model.alpha only applies to MobileNet backbones, not {spec.name}")
    checkpoint = resolve_checkpoint(spec, cfg.weights)
    size = cfg.input_size or checkpoint.image_size
    if not spec.interpolates_positions and size != checkpoint.image_size:
        raise ModelError(f"model.input_size={size} does not fit the {spec.name} checkpoint {checkpoint.source}: its "
                         f"position embeddings cover {checkpoint.grid}x{checkpoint.grid} patches of "
                         f"{checkpoint.patch_size}px ({checkpoint.image_size}px images) and keras-hub does not resize "
                         f"them for {spec.name}; leave model.input_size unset or set it to {checkpoint.image_size}")
    if size % checkpoint.patch_size:
        raise ModelError(f"model.input_size={size} is not a multiple of the {spec.name} checkpoint's patch size "
                         f"{checkpoint.patch_size}px (keras-hub resizes its position embeddings to whole patch grids)")
    if fetch_weights and not checkpoint.local:
        load_backbone(spec, checkpoint, size)  # the download, now: an offline machine learns it before any work
    return checkpoint


def load_backbone(spec: TransformerSpec, checkpoint: Checkpoint, size: int):
    """The checkpoint as keras-hub's backbone (weights loaded), at ``size`` px."""
    import keras_hub

    kwargs = {}
    if size != checkpoint.image_size:
        kwargs["image_shape"] = (size, size, 3)  # only DINOv2 gets here: keras-hub interpolates its positions
    if checkpoint.layer_norm_epsilon is not None:
        kwargs["layer_norm_epsilon"] = checkpoint.layer_norm_epsilon
    preset = checkpoint.source
    if checkpoint.local and checkpoint.hugging_face:
        preset = str(readable_by_keras_hub(Path(preset), spec.hf_prefix))
    try:
        return getattr(keras_hub.models, spec.backbone_class).from_preset(preset, **kwargs)
    except KerasTLError:
        raise
    except Exception as err:  # noqa: BLE001 - truncated files, missing tensors, downloads: one line for the user
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"cannot load a {spec.name} checkpoint from model.weights {checkpoint.source}: "
                         f"{type(err).__name__}: {first[:200]}") from None


def build_transformer_features(spec: TransformerSpec, cfg: ModelConfig, image: keras.KerasTensor) -> keras.KerasTensor:
    """Normalisation + transformer base + pooling on ``image`` (raw 0-255 RGB); returns the pooled features."""
    size = transformer_input_size(spec, cfg)
    checkpoint = check_transformer_config(spec, cfg, fetch_weights=False)
    source = load_backbone(spec, checkpoint, size)
    pairs, prefix_tokens = _REBUILD[spec.name](source, spec)
    after_pooling = _AFTER_POOLING[spec.name](source, spec) if spec.name in _AFTER_POOLING else []
    x = keras.layers.Rescaling(list(checkpoint.scale), offset=list(checkpoint.offset), name="tl_preprocess")(image)
    for layer, _ in pairs:
        x = layer(x)
    x = pool_tokens(x, prefix_tokens, cfg.pooling, name="tl_tokens_pooled" if after_pooling else FEATURES_LAYER)
    for layer, _ in after_pooling:
        x = layer(x)
    for layer, original in pairs + after_pooling:
        if original is not None:
            layer.set_weights(original.get_weights())
    return x


def pool_tokens(tokens: keras.KerasTensor, prefix_tokens: int, pooling: str,
                name: str = FEATURES_LAYER) -> keras.KerasTensor:
    length = tokens.shape[1]
    if pooling == "cls":
        first = keras.layers.Cropping1D((0, length - 1), name="tl_class_token")(tokens)
        return keras.layers.Flatten(name=name)(first)
    patches = keras.layers.Cropping1D((prefix_tokens, 0), name="tl_patch_tokens")(tokens)
    layer = keras.layers.GlobalAveragePooling1D if pooling == "avg" else keras.layers.GlobalMaxPooling1D
    return layer(name=name)(patches)


def block_boundary(spec: TransformerSpec, layers: list[keras.layers.Layer], blocks: int) -> int:
    """Index of the first base layer phase 2 unfreezes for the top ``blocks`` transformer blocks (more than the
    base has: all of it, embeddings included; 0: none, the final LayerNorm included)."""
    starts = [i for i, layer in enumerate(layers) if layer.name.startswith(spec.block_prefix)]
    if blocks > len(starts):
        return 0
    return starts[len(starts) - blocks] if blocks else len(layers)


# Each family: (our layer, the keras-hub layer whose weights it takes) in graph order, and the number of tokens
# (class, distillation, registers) before the patch tokens.

def _derived_free(layer) -> dict:
    # Derived values the constructors refuse, and the name and dtype policy, which our model sets itself.
    derived = ("num_patches", "num_positions", "key_dim", "name", "dtype")
    return {key: value for key, value in layer.get_config().items() if key not in derived}


def _layer_norm(original, name: str) -> keras.layers.LayerNormalization:
    return keras.layers.LayerNormalization(epsilon=original.epsilon, name=name)


def _vit(source, spec: TransformerSpec):
    from keras_tl.models.vision_transformer_layers import ViTBlock, ViTEmbedding

    embedding = source.get_layer("vit_patching_and_embedding")
    encoder = source.get_layer("vit_encoder")
    if not embedding.use_class_token:
        raise ModelError("this ViT checkpoint has no class token, which keras_tl's ViT base expects")
    pairs = [(ViTEmbedding(**_derived_free(embedding), use_patch_bias=embedding.use_patch_bias,
                           name=f"{spec.name}_embedding"), embedding),
             (keras.layers.Dropout(encoder.dropout_rate, name=f"{spec.name}_embedding_dropout"), None)]
    pairs += [(ViTBlock(**_derived_free(block), name=f"{spec.block_prefix}{i}"), block)
              for i, block in enumerate(encoder.encoder_layers)]
    pairs.append((_layer_norm(encoder.layer_norm, f"{spec.name}_layernorm"), encoder.layer_norm))
    return pairs, 1


def _deit(source, spec: TransformerSpec):
    from keras_tl.models.vision_transformer_layers import DeiTBlock, DeiTEmbedding

    embedding = source.get_layer("deit_patching_and_embedding")
    encoder = source.get_layer("deit_encoder")
    pairs = [(DeiTEmbedding(**_derived_free(embedding), name=f"{spec.name}_embedding"), embedding)]
    pairs += [(DeiTBlock(**_derived_free(block), name=f"{spec.block_prefix}{i}"), block)
              for i, block in enumerate(encoder.encoder_layers)]
    pairs.append((_layer_norm(encoder.layer_norm, f"{spec.name}_layernorm"), encoder.layer_norm))
    return pairs, 2  # the class and the distillation token


def _dinov2(source, spec: TransformerSpec):
    from keras_tl.models.vision_transformer_layers import DINOv2Block, DINOv2Embedding

    pairs = [(DINOv2Embedding(**_derived_free(source.embeddings), name=f"{spec.name}_embedding"), source.embeddings)]
    pairs += [(DINOv2Block(**_derived_free(block), name=f"{spec.block_prefix}{i}"), block)
              for i, block in enumerate(source.encoder.layers)]
    pairs.append((_layer_norm(source.layernorm, f"{spec.name}_layernorm"), source.layernorm))
    return pairs, 1 + source.num_register_tokens


def _metaclip2(source, spec: TransformerSpec):
    from keras_tl.models.vision_transformer_layers import MetaCLIP2Block, MetaCLIP2Embedding

    tower = source.vision_encoder
    embedding = tower.embedding
    pairs = [(MetaCLIP2Embedding(hidden_dim=embedding.hidden_dim, patch_size=embedding.patch_size,
                                 image_size=embedding.image_size, name=f"{spec.name}_embedding"), embedding),
             (_layer_norm(tower.pre_layer_norm, f"{spec.name}_pre_layernorm"), tower.pre_layer_norm)]
    pairs += [(MetaCLIP2Block(**_derived_free(block), name=f"{spec.block_prefix}{i}"), block)
              for i, block in enumerate(tower.encoder_layers)]
    return pairs, 1


def _metaclip2_projection(source, spec: TransformerSpec):
    """CLIP's image embedding of the pooled token: LayerNorm, the projection into the text tower's space, and the
    L2 normalisation that makes a Dense layer over it a cosine head (zero_shot.py)."""
    projection = source.vision_projection
    return [(_layer_norm(source.vision_post_layer_norm, f"{spec.name}_post_layernorm"),
             source.vision_post_layer_norm),
            (keras.layers.Dense(projection.units, use_bias=False, name=f"{spec.name}_projection"), projection),
            (keras.layers.UnitNormalization(name=FEATURES_LAYER), None)]


_REBUILD = {"vit": _vit, "deit": _deit, "dinov2": _dinov2, "metaclip2": _metaclip2}
# Families whose features are not the pooled tokens themselves: layers applied after pooling.
_AFTER_POOLING = {"metaclip2": _metaclip2_projection}
