"""ONNX export: tf2onnx from the Keras model, checked with onnx.checker; int8 by ONNX Runtime static quantization.

Static (calibrated) quantization only: ORT's dynamic int8 is many times slower than fp32 for CNNs on CPU.
Both files carry the class names in ``metadata_props`` ("labels", a JSON list).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import keras
import onnx
import tensorflow as tf

from export.errors import ExportError, first_line
from export.runtimes import ONNX_LABELS_KEY
from keras_tl.cli.quiet import silenced_stderr

def convert(model: keras.Model, path: Path, *, opset: int, labels: Sequence[str], producer: str) -> None:
    """Write ``model`` as ONNX to ``path`` and check it."""
    import tf2onnx

    signature = [tf.TensorSpec((None, *tensor.shape[1:]), tensor.dtype, name=tensor.name) for tensor in model.inputs]
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        with silenced_stderr():
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset)
    except Exception as err:  # noqa: BLE001 - tf2onnx raises plain exceptions for unsupported ops and opsets
        raise ExportError(f"ONNX conversion (opset {opset}) failed: {first_line(err)}") from None
    _write(proto, path, labels, producer)


def quantize(fp32_path: Path, path: Path, calibration: Iterable[dict], *, labels: Sequence[str], producer: str,
             scratch: Path, quant_format: str = "qdq") -> None:
    """Static int8 quantization of an ONNX model: per-channel int8 weights, uint8 activations calibrated
    (min/max) on ``calibration``, an iterable of batch-1 input dicts keyed by input name. Intermediate models
    go to a temporary folder inside ``scratch``."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quant_pre_process,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.samples = iter(calibration)

        def get_next(self):
            return next(self.samples, None)

    with tempfile.TemporaryDirectory(dir=scratch) as work:
        prepared = Path(work) / "prepared.onnx"
        quantized = Path(work) / "quantized.onnx"
        try:
            with silenced_stderr():
                # skip_symbolic_shape: the symbolic shape pass needs sympy and adds nothing for fixed-size images.
                quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
                quantize_static(str(prepared), str(quantized), Reader(),
                                quant_format=QuantFormat.QDQ if quant_format == "qdq" else QuantFormat.QOperator,
                                per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        except Exception as err:  # noqa: BLE001 - ORT's quantizer raises plain exceptions
            raise ExportError(f"ONNX int8 quantization failed: {first_line(err)}") from None
        _write(onnx.load(str(quantized)), path, labels, producer)


def _write(proto: onnx.ModelProto, path: Path, labels: Sequence[str], producer: str) -> None:
    props = {p.key: p.value for p in proto.metadata_props}
    onnx.helper.set_model_props(proto, {**props, ONNX_LABELS_KEY: json.dumps(list(labels)), "producer": producer})
    onnx.save(proto, str(path))
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as err:
        raise ExportError(f"the ONNX model fails onnx.checker: {first_line(err)}") from None
