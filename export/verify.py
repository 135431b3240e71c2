"""Parity of an artifact with the Keras model on the same images: accuracy, top-1 agreement, max |diff|."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from export.artifacts import ArtifactSpec
from keras_tl.config.schema import VerifyThresholds
from keras_tl.evaluate import classification_metrics


@dataclass
class Verification:
    samples: int
    accuracy: float
    top1_agreement: float
    max_abs_diff: Optional[float]  # None when the artifact output NaN or inf
    threshold: float
    passed: bool
    error: Optional[str] = None  # the runtime could not run the file at all

    @classmethod
    def unrunnable(cls, error: str, threshold: float) -> "Verification":
        return cls(samples=0, accuracy=0.0, top1_agreement=0.0, max_abs_diff=None, threshold=threshold,
                   passed=False, error=error)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.error:
            return self.error
        return (f"agreement {self.top1_agreement:.4f} (needs {self.threshold:.2f}), accuracy {self.accuracy:.4f}, "
                f"max |diff| {'non-finite' if self.max_abs_diff is None else f'{self.max_abs_diff:.4f}'}")


def threshold_for(spec: ArtifactSpec, thresholds: VerifyThresholds) -> float:
    return thresholds.int8_agreement if spec.is_int8 else thresholds.float_agreement


def predict_all(predict: Callable[[dict], np.ndarray], batches: Iterable[dict]) -> np.ndarray:
    return np.concatenate([np.asarray(predict(batch), dtype=np.float32) for batch in batches])


def compare(probs: np.ndarray, reference: np.ndarray, targets: np.ndarray, labels: Sequence[str], *,
            multi_label: bool, threshold: float) -> Verification:
    if probs.shape != reference.shape:
        raise ValueError(f"artifact output {probs.shape} does not match the Keras model's {reference.shape}")
    finite = bool(np.all(np.isfinite(probs)))
    agreement = float(np.mean(probs.argmax(axis=1) == reference.argmax(axis=1))) if finite else 0.0
    accuracy = classification_metrics(targets, np.nan_to_num(probs), labels, multi_label=multi_label)["accuracy"]
    max_diff = float(np.max(np.abs(probs - reference))) if finite else None
    return Verification(samples=len(probs), accuracy=float(accuracy), top1_agreement=agreement,
                        max_abs_diff=max_diff, threshold=threshold, passed=finite and agreement >= threshold)
