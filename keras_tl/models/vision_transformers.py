"""Registry entries for transformer image bases that keras-hub builds: ViT, DeiT, DINOv2 and MetaCLIP 2's image
tower (whose text tower only writes the zero-shot head, zero_shot.py).

Unlike a keras.applications base, a transformer's architecture (depth, width, patch size, image size) comes with
its checkpoint, so an entry names the keras-hub backbone class and the Hugging Face ``model_type`` values keras-hub
converts into it, not a constructor. This module imports nothing heavy: keras-hub loads only when a model is built.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class TransformerSpec:
    name: str
    backbone_class: str  # attribute of keras_hub.models
    model_types: tuple[str, ...]  # config.json "model_type" values keras-hub converts into backbone_class
    imagenet_preset: str  # the keras-hub preset `weights: imagenet` loads (downloaded: needs network)
    mean: tuple[float, ...]  # default normalisation on the 0-1 scale; a checkpoint's own file overrides it
    std: tuple[float, ...]
    # DINOv2: keras-hub resizes the position embeddings to any multiple of the patch size (bicubic, at load time).
    interpolates_positions: bool = False
    # Phase 2 unfreezes the top N transformer blocks by default (an int train.phase2.fine_tune_from counts blocks).
    fine_tune_from: int = 2
    supports_alpha: bool = False
    imagenet_source: str = "keras-hub preset download (needs network)"
    # The prefix keras-hub's converter expects on the checkpoint's tensor names (hf_prefixed_copy.py).
    hf_prefix: str = ""

    @property
    def block_prefix(self) -> str:
        """Base layers named ``<prefix><i>`` are the transformer blocks, bottom to top."""
        return f"{self.name}_block_"


TRANSFORMERS: dict[str, TransformerSpec] = {spec.name: spec for spec in (
    TransformerSpec("vit", "ViTBackbone", ("vit",), "vit_base_patch16_224_imagenet", HALF, HALF, hf_prefix="vit."),
    TransformerSpec("deit", "DeiTBackbone", ("deit",), "deit_small_distilled_patch16_224_imagenet",
                    IMAGENET_MEAN, IMAGENET_STD, hf_prefix="deit."),
    TransformerSpec("dinov2", "DINOV2Backbone", ("dinov2", "dinov2_with_registers"), "dinov2_small",
                    IMAGENET_MEAN, IMAGENET_STD, interpolates_positions=True),
    # Its features are CLIP's image embedding (projected, L2-normalised), the space its text tower embeds prompts in.
    TransformerSpec("metaclip2", "MetaCLIP2Backbone", ("metaclip_2",), "metaclip_2_vit_huge_patch14_224",
                    CLIP_MEAN, CLIP_STD, imagenet_source="keras-hub preset download (needs network; no ImageNet "
                    "training: CLIP's image-text pretraining)"),
)}

# Bases with a text tower that embeds class prompts in the image features' space (train.phase1.head: zeroshot).
CLIP_BACKBONES = ("metaclip2",)


def is_transformer(spec) -> bool:
    return isinstance(spec, TransformerSpec)


def is_clip(spec) -> bool:
    return is_transformer(spec) and spec.name in CLIP_BACKBONES
