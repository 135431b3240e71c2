"""Classification metrics from probabilities: accuracy, top-k, per-class precision/recall/F1, confusion matrix."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, top_k_accuracy_score


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, label_names: Sequence[str], *, top_k: int = 3,
                           multi_label: bool = False, threshold: float = 0.5) -> dict:
    n = len(label_names)
    if multi_label:
        predicted = (probs >= threshold).astype(int)
        truth = y_true.astype(int)
        precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, zero_division=0)
        return {
            "samples": int(len(truth)),
            "exact_match": float(np.mean(np.all(predicted == truth, axis=1))),
            "accuracy": float(np.mean(predicted == truth)),
            "micro_f1": float(precision_recall_fscore_support(truth, predicted, average="micro", zero_division=0)[2]),
            "per_class": _per_class(label_names, precision, recall, f1, support),
        }
    predicted = probs.argmax(axis=1)
    labels = np.arange(n)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, predicted, labels=labels, zero_division=0)
    metrics = {"samples": int(len(y_true)), "accuracy": float(np.mean(predicted == y_true))}
    if top_k < n:  # top-k over k >= n classes is always 1.0 and says nothing
        metrics[f"top_{top_k}_accuracy"] = float(top_k_accuracy_score(y_true, probs, k=top_k, labels=labels))
    return {
        **metrics,
        "macro_f1": float(np.mean(f1)),
        "per_class": _per_class(label_names, precision, recall, f1, support),
        "confusion_matrix": confusion_matrix(y_true, predicted, labels=labels).tolist(),
    }


def _per_class(names, precision, recall, f1, support) -> dict:
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, support)
    }
