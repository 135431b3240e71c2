"""Per-image predictions of an evaluated split, kept in the run so the report can show the worst mistakes."""

from __future__ import annotations

import numpy as np

from keras_tl.data import PreparedData
from keras_tl.run import RunFolder
from keras_tl.run_files import PredictionRow, write_predictions


def save_predictions(run: RunFolder, data: PreparedData, split: str, probs: np.ndarray,
                     separator: str) -> list[PredictionRow]:
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
        rows.append(PredictionRow(image=sample.path, file=data.decode_paths[sample.path], label=label,
                                  predicted=predicted, confidence=confidence, error=error))
    write_predictions(run.predictions_file(split), rows)
    return rows


def worst_misclassified(rows: list[PredictionRow], limit: int = 12) -> list[PredictionRow]:
    """Misclassified images, the largest error (the lowest probability for the true class) first."""
    wrong = [row for row in rows if row.label != row.predicted]
    return sorted(wrong, key=lambda row: (-row.error, row.image))[:limit]
