"""The README's first command: `keras-tl quickstart` runs offline, end to end, well inside 10 minutes."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path):
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "keras_tl", "quickstart", "--output-dir", str(tmp_path / "runs")],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    elapsed = time.time() - started
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert elapsed < 600
    run = Path(result.stdout.strip().splitlines()[-1])
    if not run.is_absolute():
        run = tmp_path / run
    for name in ("config.yaml", "labels.txt", "splits/train.txt", "splits/val.txt", "splits/test.txt",
                 "model.keras", "history.csv", "metrics.json", "report.md"):
        assert (run / name).is_file(), name
    assert (run / "labels.txt").read_text().split() == ["circle", "rectangle", "triangle"]
    accuracy = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    assert f"test split: accuracy {accuracy:.4f}" in result.stdout
    assert accuracy > 0.8  # chance is 1/3
    assert "keras-tl predict" in result.stdout  # tells the user what to try next


def test_shipped_configs_are_valid():
    from keras_tl.config import load_config
    from keras_tl.models import get_backbone

    configs = sorted((REPO / "configs").glob("*.yaml"))
    assert {p.name for p in configs} >= {"quickstart.yaml", "flowers_mobilenetv2.yaml", "efficientnetb0_finetune.yaml",
                                         "resnet50_finetune.yaml"}
    for path in configs:
        config = load_config(path)
        get_backbone(config.model.backbone)
        if path.name != "quickstart.yaml":
            # The image+text example runs offline on a base that 'keras-tl data easy-vqa' pretrains.
            assert config.model.weights == "imagenet" or path.name == "multimodal_vqa.yaml"
            assert path.read_text().startswith("# Expects"), f"{path.name} should say what data it expects"
    assert yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())["name"] == "quickstart"
