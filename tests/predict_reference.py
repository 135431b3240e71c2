"""What the mobile tests compare with: the exported run's test images and ``keras-tl predict`` on them."""

from __future__ import annotations

import re
from pathlib import Path

from keras_tl.cli.main import main


def split_images(run) -> list[Path]:
    """The real image files of the run's test split (see tests/export_helpers.py for where they live)."""
    root = run.path.parent.parent / "shapes"
    return [root / line.split("\t")[0] for line in (run.splits_dir / "test.txt").read_text().splitlines()]


def predict_top(model: Path, images: list[Path], capsys) -> dict[str, list[tuple[str, float]]]:
    """{image path: [(label, score), ...]} from ``keras-tl predict`` (TensorFlow decodes and resizes)."""
    assert main(["predict", str(model), *map(str, images), "--top-k", "3"]) == 0
    found = {}
    for line in capsys.readouterr().out.strip().splitlines():
        path, scores = line.rsplit(": ", 1)
        found[path] = [(label, float(score)) for label, score in re.findall(r"(\w+) (\d\.\d{3})", scores)]
    return found
