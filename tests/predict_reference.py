"""What the mobile tests compare with: the exported run's test images and ``keras-tl predict`` on them."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Optional

from keras_tl.cli.main import main


def split_images(run) -> list[Path]:
    """The real image files of the run's test split (see tests/export_helpers.py for where they live)."""
    return [image for image, _ in _split_samples(run)]


def split_images_by_text(run) -> dict[str, list[Path]]:
    """{text: the test split's images that carry it} for a run of an image+text model."""
    groups = defaultdict(list)
    for image, text in _split_samples(run):
        groups[text].append(image)
    return dict(groups)


def _split_samples(run) -> list[tuple[Path, Optional[str]]]:
    root = run.path.parent.parent / "shapes"
    samples = []
    for line in (run.splits_dir / "test.txt").read_text().splitlines():
        fields = line.split("\t")
        samples.append((root / fields[0], json.loads(fields[2]) if len(fields) > 2 else None))
    return samples


def predict_top(model: Path, images: list[Path], capsys,
                text: Optional[str] = None) -> dict[str, list[tuple[str, float]]]:
    """{image path: [(label, score), ...]} from ``keras-tl predict`` (TensorFlow decodes and resizes)."""
    assert main(["predict", str(model), *map(str, images), "--top-k", "3",
                 *(["--text", text] if text is not None else [])]) == 0
    found = {}
    for line in capsys.readouterr().out.strip().splitlines():
        path, scores = line.rsplit(": ", 1)
        found[path] = [(label, float(score)) for label, score in re.findall(r"(\w+) (\d\.\d{3})", scores)]
    return found


def assert_same_top1(top: list[tuple[str, float]], expected: list[tuple[str, float]], max_gap: float,
                     context: object) -> None:
    """The edge's top-1 label is ``keras-tl predict``'s, and its probability is within ``max_gap`` of it.

    An int8 model's probabilities come in steps of 1/256, so an exact tie may be ordered either way."""
    assert top[0][0] == expected[0][0] or dict(expected).get(top[0][0]) == expected[0][1], (context, top, expected)
    assert abs(top[0][1] - expected[0][1]) <= max_gap, (context, top, expected)
