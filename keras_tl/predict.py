"""Top-k predictions from a trained Keras model (a run folder or a .keras file) on image files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import keras
import numpy as np

from keras_tl.data import IMAGE_EXTENSIONS, load_images
from keras_tl.errors import KerasTLError
from keras_tl.models import load_trained_model
from keras_tl.run import RunFolder


@dataclass
class Prediction:
    path: str
    top: list[tuple[str, float]]

    @property
    def label(self) -> str:
        return self.top[0][0]


class KerasPredictor:
    """Runs a .keras model on raw 0-255 images, decoded exactly as in training."""

    def __init__(self, model: keras.Model, labels: Sequence[str]):
        self.model = model
        self.labels = list(labels)
        self.image_size = int(model.input_shape[1] if not isinstance(model.input_shape, list) else model.input_shape[0][1])

    @classmethod
    def from_path(cls, path: str | Path) -> "KerasPredictor":
        path = Path(path)
        model_file = RunFolder(path).require_model() if path.is_dir() else path
        model = load_trained_model(model_file)
        labels_file = model_file.parent / "labels.txt"
        if labels_file.is_file():
            labels = [line for line in labels_file.read_text(encoding="utf-8").splitlines() if line]
        else:
            labels = [str(i) for i in range(int(model.output_shape[-1]))]
        return cls(model, labels)

    def predict_images(self, images: np.ndarray, text: Optional[str] = None) -> np.ndarray:
        return np.asarray(self.model.predict(images, verbose=0))


def image_files(inputs: Sequence[str | Path]) -> list[Path]:
    """Expand folders into their image files; refuse anything that is not there."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise KerasTLError(f"input not found: {path}")
    if not files:
        raise KerasTLError("no image files among the inputs")
    return files


def top_k(probs: np.ndarray, labels: Sequence[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs)[: max(1, min(k, len(labels)))]
    return [(labels[i], float(probs[i])) for i in order]


def predict_files(predictor, inputs: Sequence[str | Path], *, k: int = 3, text: Optional[str] = None) -> list[Prediction]:
    files = image_files(inputs)
    try:
        images = load_images([str(f) for f in files], predictor.image_size)
    except Exception as err:  # noqa: BLE001 - an unreadable input file is a one-line error, not a traceback
        raise KerasTLError(f"cannot read an input image ({str(err).splitlines()[0][:160]}); "
                           "check it with 'keras-tl data check'") from None
    probs = predictor.predict_images(images, text=text)
    return [Prediction(str(f), top_k(p, predictor.labels, k)) for f, p in zip(files, probs)]
