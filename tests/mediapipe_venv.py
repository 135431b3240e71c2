"""A separate virtualenv with the real MediaPipe Tasks, created once and cached between test sessions.

mediapipe pins absl-py~=2.3 (TFMOT pins absl-py~=1.2), so it can never join the project's install; the test talks
to it through a subprocess. The pins below are the smallest set that lets ``mediapipe.tasks.python.vision``
import and classify; opencv-python-headless stands in for the GUI build that mediapipe's metadata names.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.venvs import cached_venv, clean_env

NO_DEPS = ["mediapipe==1.2.2", "opencv-python-headless==5.0.0.93"]
WITH_DEPS = ["numpy==2.4.6", "absl-py==2.5.1", "flatbuffers==25.12.19", "certifi==2026.10.18",
             "matplotlib==3.11.2"]
SCRIPT = Path(__file__).with_name("mediapipe_classify.py")


def mediapipe_python() -> Path:
    return cached_venv("mediapipe-1.2.2", [["--no-deps", *NO_DEPS], WITH_DEPS])


def classify(models: list[Path], images: list[Path]) -> dict:
    """{model path: {"categories": {image path: [[label, score], ...]}, "metadata": {...}}} from MediaPipe."""
    result = subprocess.run([str(mediapipe_python()), str(SCRIPT), json.dumps([str(m) for m in models]),
                             json.dumps([str(i) for i in images])], capture_output=True, text=True, timeout=300,
                            env=clean_env())
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
