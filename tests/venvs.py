"""Virtualenvs that tests run code in, apart from the project's environment: created once, cached between test
sessions (under the user's cache folder), rebuilt when what they install changes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional


def cache_root() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "keras_tl-test-venvs"


def cached_venv(name: str, installs: list[list[str]], fingerprint: Optional[str] = None) -> Path:
    """The interpreter of a venv in which each of ``installs`` (pip install arguments) ran, in order.

    The venv is built beside its final place and renamed in, so a build cut short never looks ready; its folder
    name carries the Python version and a digest of ``fingerprint`` (default: ``installs``; pass the contents of
    requirements files that ``installs`` names)."""
    digest = hashlib.sha256((fingerprint or json.dumps(installs)).encode()).hexdigest()[:10]
    final = cache_root() / f"{name}-py{sys.version_info.major}{sys.version_info.minor}-{digest}"
    python = final / "bin" / "python"
    if (final / "ready").is_file():
        return python
    building = final.with_name(f"{final.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, capture_output=True)
    pip = [str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for arguments in installs:
        result = subprocess.run(pip + arguments, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(arguments)} failed:\n{result.stderr[-2000:]}")
    (building / "ready").write_text(json.dumps(installs, indent=1) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    try:
        building.rename(final)
    except OSError:  # another session finished first; its venv is as good as ours
        shutil.rmtree(building, ignore_errors=True)
    return python


def clean_env() -> dict[str, str]:
    """The environment without PYTHON* variables, so the venv sees none of the project's paths."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
