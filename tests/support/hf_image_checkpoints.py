"""Tiny random ViT, DeiT and DINOv2 checkpoints in the Hugging Face layout (config.json + model.safetensors), as
``transformers`` writes them for ViTForImageClassification, DeiTForImageClassificationWithTeacher and Dinov2Model.
Written with numpy and safetensors only: no torch, no download."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
from safetensors.numpy import save_file

FAMILIES = ("vit", "deit", "dinov2")
# Tensor-name prefix of the encoder in each family's checkpoint (the classification models nest it).
PREFIX = {"vit": "vit.", "deit": "deit.", "dinov2": ""}


def write_checkpoint(folder: Path, family: str, *, image_size: int = 32, patch_size: int = 8, hidden: int = 16,
                     layers: int = 2, heads: int = 2, intermediate: int = 32, seed: int = 0, registers: int = 0,
                     preprocessor: Optional[dict] = None) -> Path:
    """``registers``: DINOv2 with register tokens (model_type dinov2_with_registers)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def normal(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype("float32")

    model_type = "dinov2_with_registers" if registers else family
    config = {"model_type": model_type, "image_size": image_size, "patch_size": patch_size, "num_channels": 3,
              "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
              "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
              "qkv_bias": True, "layer_norm_eps": 1e-12 if family != "dinov2" else 1e-6}
    if family == "dinov2":
        config.update(mlp_ratio=intermediate // hidden, layerscale_value=1.0, use_swiglu_ffn=False,
                      drop_path_rate=0.0, architectures=["Dinov2Model"])
    else:
        config.update(intermediate_size=intermediate, encoder_stride=patch_size,
                      architectures=["ViTForImageClassification" if family == "vit"
                                     else "DeiTForImageClassificationWithTeacher"])
    extra_tokens = {"vit": 1, "deit": 2, "dinov2": 1}[family]
    grid = image_size // patch_size
    p = PREFIX[family]
    tensors = {
        f"{p}embeddings.cls_token": normal(1, 1, hidden),
        f"{p}embeddings.position_embeddings": normal(1, grid * grid + extra_tokens, hidden),
        f"{p}embeddings.patch_embeddings.projection.weight": normal(hidden, 3, patch_size, patch_size, scale=0.05),
        f"{p}embeddings.patch_embeddings.projection.bias": normal(hidden),
        f"{p}layernorm.weight": 1 + normal(hidden), f"{p}layernorm.bias": normal(hidden),
    }
    if family == "deit":
        tensors[f"{p}embeddings.distillation_token"] = normal(1, 1, hidden)
    if family == "dinov2":
        tensors["embeddings.mask_token"] = np.zeros((1, hidden), "float32")
    if registers:
        config["num_register_tokens"] = registers
        tensors["embeddings.register_tokens"] = normal(1, registers, hidden)
    for i in range(layers):
        block = f"{p}encoder.layer.{i}"
        for name in ("query", "key", "value"):
            tensors[f"{block}.attention.attention.{name}.weight"] = normal(hidden, hidden)
            tensors[f"{block}.attention.attention.{name}.bias"] = normal(hidden)
        tensors[f"{block}.attention.output.dense.weight"] = normal(hidden, hidden)
        tensors[f"{block}.attention.output.dense.bias"] = normal(hidden)
        if family == "dinov2":
            names = {"norm1": "norm1", "norm2": "norm2", "fc1": "mlp.fc1", "fc2": "mlp.fc2"}
            tensors[f"{block}.layer_scale1.lambda1"] = 1 + normal(hidden)
            tensors[f"{block}.layer_scale2.lambda1"] = 1 + normal(hidden)
        else:
            names = {"norm1": "layernorm_before", "norm2": "layernorm_after", "fc1": "intermediate.dense",
                     "fc2": "output.dense"}
        for norm in ("norm1", "norm2"):
            tensors[f"{block}.{names[norm]}.weight"] = 1 + normal(hidden)
            tensors[f"{block}.{names[norm]}.bias"] = normal(hidden)
        tensors[f"{block}.{names['fc1']}.weight"] = normal(intermediate, hidden)
        tensors[f"{block}.{names['fc1']}.bias"] = normal(intermediate)
        tensors[f"{block}.{names['fc2']}.weight"] = normal(hidden, intermediate)
        tensors[f"{block}.{names['fc2']}.bias"] = normal(hidden)
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    if preprocessor is not None:
        (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor), encoding="utf-8")
    return folder


def transformer_config(runs: Path, data_dir: Path, checkpoint: Path, family: str, **sections):
    """The tests' tiny config (tests/helpers.py) on a transformer checkpoint at its own 32 px."""
    from tests.helpers import tiny_config

    model = {"backbone": family, "alpha": None, "input_size": None, **sections.pop("model", {})}
    return tiny_config(runs, data_dir, checkpoint, model=model, **sections)
