"""A fresh virtualenv with only the edge runner's requirements (no TensorFlow, no keras_tl), cached between test
sessions and rebuilt when mobile_demo/edge/requirements.txt changes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.venvs import cached_venv, clean_env

REQUIREMENTS = Path(__file__).resolve().parents[1] / "mobile_demo" / "edge" / "requirements.txt"
EXTRAS = REQUIREMENTS.with_name("requirements-extras.txt")


def edge_python(*extras: str) -> Path:
    """The venv's interpreter; ``extras`` names packages of requirements-extras.txt to add, at their pins there."""
    pins = [line for line in EXTRAS.read_text().splitlines() if line.split("==")[0] in extras]
    assert len(pins) == len(extras), f"{extras} are not all pinned in {EXTRAS.name}"
    installs = [["-r", str(REQUIREMENTS)]] + ([pins] if pins else [])
    name = "-".join(["edge-runner", *sorted(extras)])
    return cached_venv(name, installs, fingerprint=REQUIREMENTS.read_text() + "\n".join(pins))


def run_edge(python: Path, arguments: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m edge ARGUMENTS`` with the runner's folder as the only project code on the path, the way a user
    runs a copy of it on a device."""
    return subprocess.run([str(python), "-m", "edge", *arguments], capture_output=True, text=True,
                          timeout=timeout, cwd=REQUIREMENTS.parents[1], env=clean_env())


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
