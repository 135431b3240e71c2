"""Artifacts run by the one runtime, ``keras_tl.edge.model`` (LiteRT for .tflite, ONNX Runtime for .onnx): the code
the edge runner ships to devices, so export verification, the benchmark, ``keras-tl predict`` and a device run a
file the same way. This module only adds what keras_tl's commands need around it: a format for files named
``.partial`` (staged) or ``.failed`` (kept by ``export --keep-failed``), keras_tl's one-line errors, LiteRT's
start-up line kept off the terminal, and ``keras-tl predict --text`` with the tokenizer.json beside the file.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from keras_tl.edge.errors import EdgeError
from keras_tl.edge.model import EdgeModel, open_model
from keras_tl.edge.text import TOKENIZER_FILE, TextEncoder
from keras_tl.errors import KerasTLError
from keras_tl.export.artifacts import FAILED_SUFFIX, FORMAT_SUFFIX
from keras_tl.quiet import silenced_stderr


@contextlib.contextmanager
def keras_tl_errors():
    """The edge's one-line errors as keras_tl's, which the CLI prints without a traceback."""
    try:
        yield
    except EdgeError as err:
        raise KerasTLError(str(err)) from None


def open_artifact(path: str | Path, fmt: str, threads: Optional[int] = None) -> EdgeModel:
    """The artifact file of format ``fmt`` ("tflite" / "onnx") at ``path``, whatever its name ends with."""
    with keras_tl_errors(), silenced_stderr():  # LiteRT announces its XNNPACK delegate on fd 2 when it allocates
        return open_model(path, threads, suffix=FORMAT_SUFFIX[fmt])


def artifact_outputs(path: str | Path, fmt: str, batches: Iterable[dict[str, np.ndarray]],
                     threads: Optional[int] = None) -> np.ndarray:
    """What verification compares with the Keras model: the file's probabilities over ``batches`` (input dicts
    keyed by input name), computed as the edge runner computes them."""
    model = open_artifact(path, fmt, threads)
    with keras_tl_errors():
        return np.concatenate([model.run(batch) for batch in batches])


class ArtifactPredictor:
    """``keras-tl predict`` on an exported file (what KerasPredictor is for a .keras model)."""

    def __init__(self, model: EdgeModel):
        self.model = model
        self.path = model.path
        self.labels = model.labels
        self.image_size = model.image_size  # None: a text-only model
        self.runtime = model.runtime

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Probabilities of a batch of input dicts keyed by input name (raw 0-255 images, token arrays)."""
        with keras_tl_errors():
            return self.model.run(inputs)

    def predict_images(self, images: Optional[np.ndarray], text: Optional[str] = None) -> np.ndarray:
        """Probabilities for each image (with the same ``text`` for image+text models), or for the text alone."""
        model, name = self.model, self.path.name
        inputs = {} if model.image_input is None else {model.image_input.name: images}
        if not model.takes_text:
            if text is not None:
                raise KerasTLError(f"{name} takes no text input; leave out --text")
            return self.predict(inputs)
        if text is None:
            raise KerasTLError(f'{name} also takes a text: pass it with --text "..."')
        tokenizer = self.path.with_name(TOKENIZER_FILE)
        if not tokenizer.is_file():
            raise KerasTLError(f"{name} takes text but {tokenizer} is missing; copy the tokenizer.json from the "
                               "run's export folder next to it")
        with keras_tl_errors():
            tokens = TextEncoder(tokenizer).encode(text)
        count = 1 if model.image_input is None else len(images)
        inputs.update({key: np.repeat(value, count, axis=0) for key, value in tokens.items()})
        return self.predict(inputs)


def predictor_for(path: str | Path, threads: Optional[int] = None,
                  warn: Optional[Callable[[str], None]] = None) -> ArtifactPredictor:
    """The predictor of a .tflite / .onnx file, or of one kept as ``.failed`` by ``export --keep-failed``
    (``warn`` then hears that its predictions were not verified)."""
    path = Path(path)
    if not path.is_file():
        raise KerasTLError(f"model not found: {path}")
    name = path.name.lower()
    failed = name.endswith(FAILED_SUFFIX)
    name = name.removesuffix(FAILED_SUFFIX)
    fmt = next((f for f, suffix in FORMAT_SUFFIX.items() if name.endswith(suffix)), None)
    if fmt is None:
        raise KerasTLError(f"{path.name} is neither a .tflite nor an .onnx file (nor one kept as {FAILED_SUFFIX})")
    if failed and warn is not None:
        warn(f"{path.name} failed verification at export: its predictions may differ from the Keras model's")
    return ArtifactPredictor(open_artifact(path, fmt, threads))
