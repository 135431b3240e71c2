"""Per-image predictions of an evaluated split, kept in the run so the report can show the worst mistakes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from keras_tl.data import PreparedData
from keras_tl.run import RunFolder, atomic_write_text

COLUMNS = ("image", "file", "label", "predicted", "confidence", "error")


def predictions_file(run: RunFolder, split: str) -> Path:
    return run.path / "predictions" / f"{split}.csv"


def save_predictions(path: Path, data: PreparedData, split: str, probs: np.ndarray, separator: str) -> list[dict]:
    """One row per image: true and predicted labels, the confidence of the prediction, and an error score
    (single-label: 1 - probability of the true class; multi-label: the largest |target - probability|)."""
    targets = data.targets(split)
    names = data.label_names
    rows = []
    for sample, target, p in zip(data.splits[split], targets, probs):
        if data.multi_label:
            label = separator.join(names[i] for i in range(len(names)) if target[i] >= 0.5)
            predicted = separator.join(names[i] for i in range(len(names)) if p[i] >= 0.5)
            confidence = float(np.mean([max(q, 1 - q) for q in p]))
            error = float(np.max(np.abs(target - p)))
        else:
            best = int(np.argmax(p))
            label, predicted = names[int(target)], names[best]
            confidence, error = float(p[best]), float(1 - p[int(target)])
        rows.append({"image": sample.path, "file": data.decode_paths[sample.path], "label": label,
                     "predicted": predicted, "confidence": f"{confidence:.4f}", "error": f"{error:.4f}"})
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())
    return rows


def read_predictions(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def worst_misclassified(rows: list[dict], limit: int = 12) -> list[dict]:
    """Misclassified images, the largest error (the lowest probability for the true class) first."""
    wrong = [row for row in rows if row["label"] != row["predicted"]]
    return sorted(wrong, key=lambda row: (-float(row["error"]), row["image"]))[:limit]
