"""Parity of an artifact with the Keras model on the same images: accuracy, top-1 agreement, max |diff|.

Agreement is a proportion measured on a sample of images, so it comes with a 95 % Wilson interval, and an artifact
fails only when the interval lies wholly below the threshold: one flip in 18 images (0.944, interval 0.74-0.99) is
no evidence against a 0.97 threshold, while 950 of 1,000 (0.950, interval 0.935-0.962) is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
from scipy.stats import binomtest

from keras_tl.export.artifacts import ArtifactSpec
from keras_tl.config.schema import VerifyThresholds
from keras_tl.evaluate import classification_metrics


@dataclass
class Verification:
    samples: int
    accuracy: float
    top1_agreement: float
    agreement_interval: Optional[list[float]]  # 95 % Wilson interval of top1_agreement: [low, high]
    max_abs_diff: Optional[float]  # None when the artifact output NaN or inf
    threshold: float
    passed: bool
    error: Optional[str] = None  # the runtime could not run the file at all

    @classmethod
    def unrunnable(cls, error: str, threshold: float) -> "Verification":
        return cls(samples=0, accuracy=0.0, top1_agreement=0.0, agreement_interval=None, max_abs_diff=None,
                   threshold=threshold, passed=False, error=error)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.error:
            return self.error
        low, high = self.agreement_interval or (0.0, 0.0)
        return (f"agreement {self.top1_agreement:.4f} (95% {low:.3f}-{high:.3f} on {self.samples} images; needs "
                f"{self.threshold:.2f}), accuracy {self.accuracy:.4f}, "
                f"max |diff| {'non-finite' if self.max_abs_diff is None else f'{self.max_abs_diff:.4f}'}")


def threshold_for(spec: ArtifactSpec, thresholds: VerifyThresholds) -> float:
    return thresholds.int8_agreement if spec.is_int8 else thresholds.float_agreement


def predict_all(predict: Callable[[dict], np.ndarray], batches: Iterable[dict]) -> np.ndarray:
    return np.concatenate([np.asarray(predict(batch), dtype=np.float32) for batch in batches])


def agreement_interval(agreeing: int, samples: int) -> list[float]:
    interval = binomtest(agreeing, samples).proportion_ci(confidence_level=0.95, method="wilson")
    return [float(interval.low), float(interval.high)]  # a list, as JSON gives it back


def compare(probs: np.ndarray, reference: np.ndarray, targets: np.ndarray, labels: Sequence[str], *,
            multi_label: bool, threshold: float, accuracy_rows: Optional[int] = None) -> Verification:
    """``accuracy_rows``: accuracy is measured on the first rows only (the labelled split's), agreement on all."""
    if probs.shape != reference.shape:
        raise ValueError(f"artifact output {probs.shape} does not match the Keras model's {reference.shape}")
    finite = bool(np.all(np.isfinite(probs)))
    agreeing = int(np.sum(probs.argmax(axis=1) == reference.argmax(axis=1))) if finite else 0
    rows = slice(0, accuracy_rows)
    accuracy = classification_metrics(targets[rows], np.nan_to_num(probs[rows]), labels,
                                      multi_label=multi_label)["accuracy"]
    max_diff = float(np.max(np.abs(probs - reference))) if finite else None
    interval = agreement_interval(agreeing, len(probs))
    return Verification(samples=len(probs), accuracy=float(accuracy), top1_agreement=agreeing / len(probs),
                        agreement_interval=interval, max_abs_diff=max_diff, threshold=threshold,
                        passed=finite and interval[1] >= threshold)
