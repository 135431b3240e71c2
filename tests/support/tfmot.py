"""What the pruning and QAT tests share: TFLite files made and run as export makes and runs them (its one converter,
keras_tl.edge's runtime), top-1 accuracy of outputs, and what a full-int8 TFLite file holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from keras_tl.edge.model import open_model
from keras_tl.export import tflite
from keras_tl.export.tfmot import saved_model, train_qat_model
from keras_tl.export.tfmot.pipeline import top1_agreement
from keras_tl.models import IMAGE_INPUT


def accuracy(outputs, targets):
    return float(np.mean(np.argmax(outputs, axis=-1) == targets))


def tflite_file(model, path: Path, precision: str = "fp32", representative: Optional[np.ndarray] = None,
                int8_image_input: str = "uint8") -> Path:
    """``model`` (Keras 3 or tf_keras) converted at ``precision`` by export's TFLite converter, written to ``path``
    (its SavedModel goes beside it)."""
    samples = None
    if representative is not None:
        images = np.asarray(representative, np.float32)
        samples = lambda: ({IMAGE_INPUT: image[None]} for image in images)  # noqa: E731
    source = saved_model(model, path.with_name(path.name + ".saved_model"))
    path.write_bytes(tflite.convert(source, precision, representative=samples, int8_image_input=int8_image_input))
    return path


def run_tflite(path: Path, images: np.ndarray) -> np.ndarray:
    """Probabilities of a single-input image model's file, run by keras_tl.edge (as export verifies it)."""
    model = open_model(path)
    return model.run({model.image_input.name: images})


@dataclass
class QatInt8:
    path: Path  # full-int8 TFLite: int8 ops, export.int8_image_input image input, float32 probabilities
    keras_outputs: np.ndarray  # the QAT model's probabilities on the test images
    tflite_outputs: np.ndarray
    agreement: float  # top-1 agreement of the two
    preserve_sparsity: bool


def qat_int8(model, data, cfg, images: np.ndarray, folder: Path) -> QatInt8:
    """QAT-fine-tune ``model`` as ``export --qat`` does and convert it as export converts the QAT artifact."""
    from keras_tl.export.tfmot.finetune import split_images

    trained = train_qat_model(model, data, cfg, log=lambda *_: None)
    representative = split_images(data, cfg, "train", cfg.export.representative_samples)
    path = tflite_file(trained.model, folder / "model_qat_int8.tflite", "int8", representative,
                       cfg.export.int8_image_input)
    keras_outputs = np.asarray(trained.model.predict(images, batch_size=cfg.data.batch_size, verbose=0))
    tflite_outputs = run_tflite(path, images)
    return QatInt8(path, keras_outputs, tflite_outputs, top1_agreement(keras_outputs, tflite_outputs),
                   trained.preserve_sparsity)


def assert_full_int8(path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=path.read_bytes())
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert source["dtype"] == np.uint8 and tuple(source["quantization"]) == (1.0, 0)  # raw 0-255 pixels as they are
    assert sink["dtype"] == np.float32
    float_tensors = {d["name"] for d in interpreter.get_tensor_details() if d["dtype"] == np.float32}
    assert float_tensors == {sink["name"]}  # every op computes in int8; only the probabilities are dequantized
