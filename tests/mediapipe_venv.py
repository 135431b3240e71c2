"""A separate virtualenv with the real MediaPipe Tasks, created once and cached between test sessions.

mediapipe pins absl-py~=2.3 (TFMOT pins absl-py~=1.2), so it can never join the project's install; the test talks
to it through a subprocess. The pins below are the smallest set that lets ``mediapipe.tasks.python.vision``
import and classify; opencv-python-headless stands in for the GUI build that mediapipe's metadata names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

NO_DEPS = ["mediapipe==1.2.2", "opencv-python-headless==5.0.0.93"]
WITH_DEPS = ["numpy==2.4.6", "absl-py==2.5.1", "flatbuffers==25.12.19", "certifi==2026.10.18",
             "matplotlib==3.11.2"]
SCRIPT = Path(__file__).with_name("mediapipe_classify.py")


def venv_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = f"mediapipe-1.2.2-py{sys.version_info.major}{sys.version_info.minor}"
    return cache / "keras_tl-test-venvs" / tag


def mediapipe_python() -> Path:
    """The venv's interpreter; builds the venv beside its final place and renames it in, so a build cut short
    never looks ready."""
    final = venv_dir()
    python = final / "bin" / "python"
    if (final / "ready").is_file():
        return python
    building = final.with_name(f"{final.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, capture_output=True)
    pip = [str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for command in (pip + ["--no-deps", *NO_DEPS], pip + WITH_DEPS):
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command[3:])} failed:\n{result.stderr[-2000:]}")
    (building / "ready").write_text("\n".join(NO_DEPS + WITH_DEPS) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    try:
        building.rename(final)
    except OSError:  # another session finished first; its venv is as good as ours
        shutil.rmtree(building, ignore_errors=True)
    return python


def classify(models: list[Path], images: list[Path]) -> dict:
    """{model path: {"categories": {image path: [[label, score], ...]}, "metadata": {...}}} from MediaPipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run([str(mediapipe_python()), str(SCRIPT), json.dumps([str(m) for m in models]),
                             json.dumps([str(i) for i in images])], capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
