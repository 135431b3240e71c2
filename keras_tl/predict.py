"""Top-k predictions from a trained Keras model (a run folder or a .keras file) on image files and/or a text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import keras
import numpy as np

from keras_tl.data import IMAGE_INPUT, TEXT_INPUTS, TextTokenizer, load_images
from keras_tl.edge.errors import EdgeError
from keras_tl.edge.images import image_files as edge_image_files
from keras_tl.errors import KerasTLError
from keras_tl.models import load_trained_model, model_input_names
from keras_tl.run import RunFolder


@dataclass
class Prediction:
    path: str
    top: list[tuple[str, float]]
    error: Optional[str] = None  # why this file could not be read (then ``top`` is empty)

    @property
    def label(self) -> str:
        return self.top[0][0] if self.top else ""


class KerasPredictor:
    """Runs a .keras model on raw 0-255 images, decoded exactly as in training, and/or a text tokenized with
    the run's tokenizer.json."""

    def __init__(self, model: keras.Model, labels: Sequence[str], tokenizer: Optional[TextTokenizer] = None):
        self.model = model
        self.labels = list(labels)
        self.tokenizer = tokenizer
        self.takes_text = any(name in TEXT_INPUTS for name in model_input_names(model))
        images = [tensor for tensor in model.inputs if tensor.name not in TEXT_INPUTS]
        self.image_size = int(images[0].shape[1]) if images else None  # None: a text-only model
        if self.takes_text and tokenizer is None:
            raise KerasTLError("this model takes text but no tokenizer.json was found next to it")

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
        tokenizer_file = model_file.parent / "tokenizer.json"
        tokenizer = TextTokenizer.load(tokenizer_file) if tokenizer_file.is_file() else None
        return cls(model, labels, tokenizer)

    def predict_images(self, images: Optional[np.ndarray], text: Optional[str] = None) -> np.ndarray:
        """Probabilities for each image (the same ``text`` with each), or for the text alone (text-only models)."""
        if not self.takes_text:
            if text is not None:
                raise KerasTLError("this model takes no text; leave out --text")
            return np.asarray(self.model.predict(images, verbose=0))
        if text is None:
            raise KerasTLError("this model also takes a text: pass it with --text \"...\"")
        if self.image_size is None:
            return np.asarray(self.model.predict(self.tokenizer.encode([text]), verbose=0))
        if images is None:
            raise KerasTLError("this model takes an image with the text: name an image file")
        inputs = {IMAGE_INPUT: images, **self.tokenizer.encode([text] * len(images))}
        return np.asarray(self.model.predict(inputs, verbose=0))


def image_files(inputs: Sequence[str | Path]) -> list[Path]:
    """Expand folders into their image files (as the edge runner does); refuse anything that is not there."""
    try:
        return edge_image_files(inputs)
    except EdgeError as err:
        raise KerasTLError(str(err)) from None


def top_k(probs: np.ndarray, labels: Sequence[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs)[: max(1, min(k, len(labels)))]
    return [(labels[i], float(probs[i])) for i in order]


def predict_files(predictor, inputs: Sequence[str | Path], *, k: int = 3, text: Optional[str] = None) -> list[Prediction]:
    """Top-k per image file (with ``text`` for image+text models); a text-only model takes no files."""
    if getattr(predictor, "image_size", 0) is None:
        if inputs:
            raise KerasTLError("this model takes only text: pass --text and no image files")
        return [Prediction(f"text: {text}", top_k(predictor.predict_images(None, text=text)[0], predictor.labels, k))]
    files = image_files(inputs)
    # One file at a time: a single unreadable file must not cost the predictions of all the others.
    decoded, failed = [], {}
    for f in files:
        try:
            decoded.append((f, load_images([str(f)], predictor.image_size)[0]))
        except Exception as err:  # noqa: BLE001 - whatever the decoder raises, the file is named with the reason
            failed[f] = read_error(err)
    probs = predictor.predict_images(np.stack([image for _, image in decoded]), text=text) if decoded else []
    found = {f: Prediction(str(f), top_k(p, predictor.labels, k)) for (f, _), p in zip(decoded, probs)}
    return [found.get(f) or Prediction(str(f), [], error=failed[f]) for f in files]


def read_error(err: Exception) -> str:
    """The reason of a decoding error in one line, without TensorFlow's op and device decoration."""
    text = getattr(err, "message", None) or str(err) or type(err).__name__
    text = re.sub(r"\{\{[^}]*\}\}", "", text)  # {{function_node __wrapped__DecodeImage_device_/job:...}}
    text = re.split(r"\s*\[Op:", text)[0]
    return " ".join(text.split())[:200] or type(err).__name__
