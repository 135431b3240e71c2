"""TFLite conversion of a Keras 3 or tf_keras image model, and a LiteRT runner to check the result.

Full-int8 conversion of a float model calibrates every tensor on representative images (post-training
quantization); a QAT model converts with the ranges its fake-quant nodes hold (every tensor has one, see quantize.py).
The interim converter for this package's tests and benchmark; the export package's converter adds metadata.
"""

from __future__ import annotations

import contextlib
import gzip
import io
from pathlib import Path
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

INPUT_TYPES = {"uint8": tf.uint8, "int8": tf.int8, "float32": tf.float32}


def tflite_bytes(model, *, int8: bool = False, representative: Optional[np.ndarray] = None,
                 input_type: str = "uint8") -> bytes:
    """fp32 TFLite, or with ``int8`` full-integer TFLite (int8 ops; ``input_type`` image input; float32 output)."""
    converter = _converter(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if representative is None or not len(representative):
            raise ValueError("full-int8 conversion needs representative images")
        # A QAT model carries its own ranges (the converter then ignores these images, but insists on having them).
        converter.representative_dataset = lambda: ([image[None]] for image in representative.astype("float32"))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = INPUT_TYPES[input_type]
        converter.inference_output_type = tf.float32
    with contextlib.redirect_stdout(io.StringIO()):  # Keras 3's export prints every captured variable
        return converter.convert()


def _converter(model) -> tf.lite.TFLiteConverter:
    if isinstance(model, keras.Model):
        return tf.lite.TFLiteConverter.from_keras_model(model)
    holder, serve = _serving_module(model)
    return tf.lite.TFLiteConverter.from_concrete_functions([serve], holder)


def save_serving_model(tf_keras_model, path: Path) -> Path:
    """A SavedModel of a tf_keras image model with one ``serving_default`` signature taking ``image``: what the
    export package's converter reads."""
    holder, serve = _serving_module(tf_keras_model)
    tf.saved_model.save(holder, str(path), signatures={"serving_default": serve})
    return path


def _serving_module(model):
    # tf_keras' own SavedModel export traces every layer (minutes for a MobileNetV2 QAT model). A module holding
    # only the variables and the serving function carries the same graph.
    serve = tf.function(lambda image: model(image, training=False))
    spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], model.inputs[0].dtype, name="image")
    holder = tf.Module()
    holder.variables_of_model = list(model.weights)
    holder.serve = serve
    return holder, serve.get_concrete_function(spec)


def run_tflite(model_bytes: bytes, images: np.ndarray, threads: int = 2) -> np.ndarray:
    """Outputs of a single-input TFLite image model on raw 0-255 images, one image per invoke."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes, num_threads=threads)
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    outputs = []
    for image in images:
        interpreter.set_tensor(source["index"], _to_input(image[None], source))
        interpreter.invoke()
        outputs.append(_from_output(interpreter.get_tensor(sink["index"]), sink)[0])
    return np.stack(outputs)


def gzip_size(data: bytes) -> int:
    """Bytes after gzip -9: what a download or an app bundle ships, and where pruning's zeros pay off."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def top1_agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.argmax(a, axis=-1) == np.argmax(b, axis=-1)))


def _to_input(batch: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if dtype == np.float32:
        return batch.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(batch / scale + zero_point), info.min, info.max).astype(dtype)


def _from_output(values: np.ndarray, detail: dict) -> np.ndarray:
    if values.dtype == np.float32:
        return values
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale
