"""A tiny random MetaCLIP 2 checkpoint in the Hugging Face layout, as ``transformers`` writes MetaClip2Model:
config.json (model_type metaclip_2 with vision_config and text_config), model.safetensors written with numpy (no
torch) and the XLM-V-style ``sentencepiece.bpe.model`` that keras-hub's converter reads, trained here on the test
prompts. Nothing is downloaded; no real weights are involved."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from tests.helpers import CLASSES

HIDDEN, TEXT_HIDDEN, PROJECTION, LAYERS, HEADS, INTERMEDIATE, POSITIONS = 16, 16, 8, 2, 2, 32, 32
PROMPT_WORDS = ["a photo of a", "a drawing of a", "a picture of the", "an image of one", "red green blue",
                "golden retriever", "big small shape"]


def _spm(folder: Path) -> int:
    import sentencepiece

    lines = PROMPT_WORDS + [f"a photo of a {label}." for label in CLASSES]
    lines += [line.title() for line in lines]
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=80,
                                             model_type="unigram", hard_vocab_limit=False, num_threads=1,
                                             minloglevel=2)
    (folder / "sentencepiece.bpe.model").write_bytes(model.getvalue())
    # keras-hub's MetaCLIP2Tokenizer shifts SentencePiece's ids up by one (XLM-V's <s> <pad> </s> <unk> first).
    return sentencepiece.SentencePieceProcessor(model_proto=model.getvalue()).get_piece_size() + 1


def write_metaclip2_checkpoint(folder: Path, *, image_size: int = 32, patch_size: int = 8, seed: int = 0,
                               hidden_act: str = "gelu", preprocessor: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = _spm(folder)
    rng = np.random.default_rng(seed)

    def normal(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype("float32")

    def encoder(prefix: str, width: int, tensors: dict) -> None:
        for i in range(LAYERS):
            block = f"{prefix}.encoder.layers.{i}"
            for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
                tensors[f"{block}.self_attn.{name}.weight"] = normal(width, width)
                tensors[f"{block}.self_attn.{name}.bias"] = normal(width)
            for norm in ("layer_norm1", "layer_norm2"):
                tensors[f"{block}.{norm}.weight"] = 1 + normal(width)
                tensors[f"{block}.{norm}.bias"] = normal(width)
            tensors[f"{block}.mlp.fc1.weight"] = normal(INTERMEDIATE, width)
            tensors[f"{block}.mlp.fc1.bias"] = normal(INTERMEDIATE)
            tensors[f"{block}.mlp.fc2.weight"] = normal(width, INTERMEDIATE)
            tensors[f"{block}.mlp.fc2.bias"] = normal(width)

    grid = image_size // patch_size
    tensors = {
        "vision_model.embeddings.patch_embedding.weight": normal(HIDDEN, 3, patch_size, patch_size, scale=0.05),
        "vision_model.embeddings.position_embedding.weight": normal(grid * grid + 1, HIDDEN),
        "vision_model.embeddings.class_embedding": normal(HIDDEN),
        "vision_model.pre_layrnorm.weight": 1 + normal(HIDDEN), "vision_model.pre_layrnorm.bias": normal(HIDDEN),
        "vision_model.post_layernorm.weight": 1 + normal(HIDDEN),
        "vision_model.post_layernorm.bias": normal(HIDDEN),
        "visual_projection.weight": normal(PROJECTION, HIDDEN, scale=0.5),
        "text_model.embeddings.token_embedding.weight": normal(vocab_size, TEXT_HIDDEN, scale=0.5),
        "text_model.embeddings.position_embedding.weight": normal(POSITIONS, TEXT_HIDDEN),
        "text_model.final_layer_norm.weight": 1 + normal(TEXT_HIDDEN),
        "text_model.final_layer_norm.bias": normal(TEXT_HIDDEN),
        "text_projection.weight": normal(PROJECTION, TEXT_HIDDEN, scale=0.5),
        "logit_scale": np.asarray(np.log(1 / 0.07), dtype="float32"),
    }
    encoder("vision_model", HIDDEN, tensors)
    encoder("text_model", TEXT_HIDDEN, tensors)
    common = {"num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "intermediate_size": INTERMEDIATE,
              "hidden_act": hidden_act, "layer_norm_eps": 1e-5}
    config = {"model_type": "metaclip_2", "architectures": ["MetaClip2Model"], "projection_dim": PROJECTION,
              "logit_scale_init_value": 2.6592,
              "vision_config": {**common, "model_type": "metaclip_2_vision_model", "hidden_size": HIDDEN,
                                "image_size": image_size, "patch_size": patch_size, "num_channels": 3},
              "text_config": {**common, "model_type": "metaclip_2_text_model", "hidden_size": TEXT_HIDDEN,
                              "vocab_size": vocab_size, "max_position_embeddings": POSITIONS,
                              "bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2}}
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    if preprocessor:
        (folder / "preprocessor_config.json").write_text(json.dumps({
            "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
            "do_normalize": True, "do_rescale": True, "rescale_factor": 1 / 255, "crop_size": {"height": image_size,
                                                                                               "width": image_size}}),
            encoding="utf-8")
    return folder
