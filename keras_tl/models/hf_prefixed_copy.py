"""Bare ViTModel / DeiTModel checkpoints for keras-hub.

keras-hub 0.32's ViT and DeiT converters ask for tensors named as in the classification models (``vit.embeddings.*``,
``deit.embeddings.*``); a folder saved from a bare ``ViTModel`` / ``DeiTModel`` names them ``embeddings.*`` and
keras-hub reports a missing tensor. Such a folder gets a renamed copy in keras_tl's cache
(once per checkpoint file), which keras-hub then reads; the user's folder is never changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from keras_tl.errors import ModelError
from keras_tl.packaged import cache_dir

WEIGHTS = "model.safetensors"
SHARDED_INDEX = "model.safetensors.index.json"
SIDE_FILES = ("config.json", "preprocessor_config.json")


def readable_by_keras_hub(folder: Path, prefix: str) -> Path:
    """``folder`` itself when its tensors carry ``prefix`` (or keras-hub finds them otherwise), else the cached
    renamed copy."""
    weights = folder / WEIGHTS
    if not prefix or not weights.is_file():
        return folder  # sharded checkpoints keep keras-hub's own handling (and its message if a name is missing)
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="np") as file:
            names = list(file.keys())
    except Exception as err:  # noqa: BLE001 - a truncated or foreign file: one line for the user
        raise ModelError(f"model.weights {weights} is not a readable safetensors file ({str(err)[:160]})") from None
    if not names or any(name.startswith(prefix) for name in names):
        return folder
    stat = weights.stat()
    key = hashlib.sha256(f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    copy = cache_dir() / "hf-prefixed" / f"{folder.name}-{key}"
    if not (copy / WEIGHTS).is_file():
        _write_copy(folder, copy, prefix)
    return copy


def _write_copy(folder: Path, copy: Path, prefix: str) -> None:
    from safetensors.numpy import load_file, save_file

    staging = copy.with_name(copy.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in SIDE_FILES:
        if (folder / name).is_file():
            shutil.copyfile(folder / name, staging / name)
    tensors = load_file(str(folder / WEIGHTS))
    save_file({prefix + name: value for name, value in tensors.items()}, str(staging / WEIGHTS),
              metadata={"format": "pt"})
    shutil.rmtree(copy, ignore_errors=True)
    os.replace(staging, copy)  # a copy is complete or absent, never half-written
