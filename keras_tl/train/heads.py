"""Output layers fitted in one pass on cached base features (train.phase1.head), then written into the Dense layer.

Each classifier scikit-learn fits here is linear in the pooled features, so its coefficients become the kernel and
bias of the model's own output layer: phase 2, evaluation and every export format then run unchanged (linear probe,
then fine-tune). How scores become probabilities (docs/heads.md):

- logistic: multinomial logistic regression; the layer's softmax is exactly its ``predict_proba``.
- linear_svm and prototype: margins and cosine similarities are not probabilities; they are scaled by one
  temperature fitted to the validation split's log-loss (the train split's when there is none), which changes no
  prediction.

logistic and linear_svm fit on standardized features; the standardization is folded into the weights.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, normalize
from sklearn.svm import LinearSVC

# L-BFGS and liblinear stop at a tolerance; these bounds are far above what 1280-wide features need.
MAX_ITERATIONS = 2000
# C when the config leaves it unset. Measured on EfficientNet-Lite0 features of Fashion-MNIST (10,000 test images,
# 100 and 1,000 training images per class): C = 1 overfits 1,280 standardized features (logistic 0.868 vs 0.891 at
# 0.01 with 1,000 per class); these were the best of a grid from 0.0003 to 1 at both sizes.
DEFAULT_REGULARIZATION = {"logistic": 0.01, "linear_svm": 0.001}


@dataclass
class FittedHead:
    kernel: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)
    classifier: object  # the fitted scikit-learn estimator the weights came from
    temperature: float = 1.0

    def logits(self, features: np.ndarray) -> np.ndarray:
        return features @ self.kernel + self.bias


def fit_head(kind: str, features: np.ndarray, targets: np.ndarray, num_classes: int, *,
             calibration: tuple[np.ndarray, np.ndarray] | None = None, regularization: Optional[float] = None,
             balanced: bool = False, seed: int = 0) -> FittedHead:
    """Fit the ``kind`` head on ``features`` -> integer ``targets``; ``calibration`` = (features, targets) that fit
    the temperature of the heads whose scores are not probabilities."""
    # float32 (what the features are) and a 1e-3 tolerance: L-BFGS then takes 1.4 s instead of 7.9 s on 10,000
    # EfficientNet-Lite0 features, with the same test accuracy (0.891 on Fashion-MNIST).
    features = np.asarray(features, dtype=np.float32)
    class_weight = "balanced" if balanced else None
    regularization = regularization or DEFAULT_REGULARIZATION.get(kind, 1.0)
    if kind == "logistic":
        classifier = make_pipeline(StandardScaler(), LogisticRegression(
            C=regularization, class_weight=class_weight, max_iter=MAX_ITERATIONS, tol=1e-3))
    elif kind == "linear_svm":
        classifier = make_pipeline(StandardScaler(), LinearSVC(
            C=regularization, class_weight=class_weight, max_iter=MAX_ITERATIONS, random_state=seed))
    elif kind == "prototype":
        with warnings.catch_warnings():  # features that are 0 for a whole class (dead ReLUs) are no problem here
            warnings.simplefilter("ignore", UserWarning)
            classifier = NearestCentroid().fit(normalize(features), targets)
        prototypes = normalize(classifier.centroids_)
        # cos(x, p) = x.p / |x|: |x| is shared by every class, so x.p ranks the classes as cosine does.
        head = FittedHead(prototypes.T, np.zeros(len(prototypes)), classifier)
        return _with_temperature(head, *(calibration or (features, targets)))
    else:
        raise ValueError(f"unknown head {kind!r}")
    classifier.fit(features, targets)
    scaler, linear = classifier[0], classifier[-1]
    # w.(x - mean)/scale + b  ==  (w/scale).x + (b - w.(mean/scale))
    weights = linear.coef_ / scaler.scale_
    bias = linear.intercept_ - weights @ scaler.mean_
    if num_classes == 2:
        # Binary scikit-learn models score class 1 against class 0; softmax([0, s]) is sigmoid(s).
        weights = np.concatenate([np.zeros_like(weights), weights])
        bias = np.concatenate([np.zeros_like(bias), bias])
    head = FittedHead(weights.T, bias, classifier)
    return head if kind == "logistic" else _with_temperature(head, *(calibration or (features, targets)))


def _with_temperature(head: FittedHead, features: np.ndarray, targets: np.ndarray) -> FittedHead:
    """Scale the head's scores by the temperature that minimises the log-loss of ``features``."""
    logits = head.logits(np.asarray(features, dtype=np.float64))
    rows = np.arange(len(targets))

    def log_loss(log_temperature: float) -> float:
        return -log_softmax(logits * np.exp(log_temperature), axis=1)[rows, targets].mean()

    best = minimize_scalar(log_loss, bounds=(-10.0, 10.0), method="bounded")
    temperature = float(np.exp(best.x))
    return FittedHead(head.kernel * temperature, head.bias * temperature, head.classifier, temperature)
