"""Every `keras-tl` command in README.md runs as written, in order, in a fresh folder (CI installs as it says)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CLASSES, draw_shape

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The README's shell lines that call keras-tl, comments dropped and continuations joined."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            for part in line.split("&&"):
                part = " ".join(part.split())
                if part.startswith("keras-tl "):
                    commands.append(part)
    return commands


def _plants(folder: Path) -> None:
    """data/plants of the README: three class folders of drawn pictures, and two photos to predict."""
    for (kind, color), name in zip(CLASSES.items(), ("healthy", "rust", "scab")):
        (folder / "data" / "plants" / name).mkdir(parents=True)
        for i in range(12):
            draw_shape(kind, color, 64, seed=500 + i).save(folder / "data" / "plants" / name / f"{i}.png")
    draw_shape("circle", CLASSES["circle"], 64, seed=900).save(folder / "photo1.jpg")
    draw_shape("triangle", CLASSES["triangle"], 64, seed=901).save(folder / "photo2.jpg")


def test_readme_names_its_commands():
    commands = readme_commands()
    assert commands[0] == "keras-tl quickstart"
    assert {c.split()[1] for c in commands} >= {"quickstart", "predict", "export", "data", "train", "evaluate"}


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path):
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    _plants(tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for command in readme_commands():
        argv = [sys.executable, "-m", "keras_tl", *shlex.split(command)[1:]]
        result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
        assert "Traceback" not in result.stderr, (command, result.stderr[-2000:])
    for artifact in ("model_fp32.tflite", "model_int8.tflite", "model_fp32.onnx", "model_int8.onnx"):
        assert (tmp_path / "runs" / "plants" / "export" / artifact).is_file(), artifact
        assert (tmp_path / "runs" / "quickstart" / "export" / artifact).is_file(), artifact
