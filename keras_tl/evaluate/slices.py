"""Per-slice evaluation: accuracy and macro F1 for each value of a manifest column (region, device, skin tone...).

A slice with fewer images than the minimum count is reported but flagged and not ranked: a 5-image slice's
accuracy moves 20 points per image, so calling it the worst would mostly name noise.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from keras_tl.data.sources import Sample
from keras_tl.errors import DataError
from keras_tl.run_files import SliceMetrics, SliceReport

BLANK = "(blank)"


def slice_columns(samples: Sequence[Sample]) -> list[str]:
    return sorted({column for sample in samples for column, _ in sample.attributes})


def check_slice_column(samples: Sequence[Sample], column: str) -> None:
    columns = slice_columns(samples)
    if column not in columns:
        have = f"the manifest's other columns are: {', '.join(columns)}" if columns else (
            "this run's data has no other columns (slices come from extra columns of a .csv/.jsonl manifest)")
        raise DataError(f"cannot slice by '{column}': {have}")


def slice_metrics(samples: Sequence[Sample], targets: np.ndarray, probabilities: np.ndarray, column: str, *,
                  min_count: int) -> SliceReport:
    """Accuracy, macro F1 and count per value of ``column``, the worst slice of at least ``min_count`` images and
    its gap (in accuracy) to the whole split."""
    check_slice_column(samples, column)
    predicted = probabilities.argmax(axis=1)
    targets = np.asarray(targets)
    values = np.asarray([sample.attribute(column) or BLANK for sample in samples])
    rows = []
    for value in sorted(set(values)):
        chosen = values == value
        y, p = targets[chosen], predicted[chosen]
        rows.append(SliceMetrics(
            value=str(value), count=int(chosen.sum()), accuracy=float(accuracy_score(y, p)),
            # classes absent from the slice count as neither right nor wrong
            macro_f1=float(f1_score(y, p, labels=sorted(set(y) | set(p)), average="macro", zero_division=0)),
            too_small=bool(chosen.sum() < min_count)))
    overall = float(accuracy_score(targets, predicted))
    ranked = [row for row in rows if not row.too_small]
    worst = min(ranked, key=lambda row: (row.accuracy, row.value)) if ranked else None
    return SliceReport(column=column, min_count=min_count, overall_accuracy=overall, slices=rows,
                       worst=None if worst is None else worst.value,
                       worst_gap=None if worst is None else overall - worst.accuracy)
