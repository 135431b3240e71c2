"""ONNX export: tf2onnx from the Keras model (or its SavedModel), checked with onnx.checker; int8 by ONNX Runtime
static quantization.

Static (calibrated) quantization only: ORT's dynamic int8 is many times slower than fp32 for CNNs on CPU.
Both files carry the class names in ``metadata_props`` ("labels", a JSON list).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import keras
import onnx
import tensorflow as tf

from keras_tl.edge.model import ONNX_LABELS_KEY  # what the runtime reads the labels from
from keras_tl.export.errors import ExportError, first_line
from keras_tl.export.float_scope import FloatScope
from keras_tl.quiet import silenced_stderr

def convert(model: keras.Model, path: Path, *, opset: int, labels: Sequence[str], producer: str,
            saved_model: Callable[[], Path]) -> str:
    """Write ``model`` as ONNX to ``path`` and check it; returns the route that converted it.

    tf2onnx's ``from_keras`` fails on some Keras 3 graphs (the image+text model's dict inputs); the model's
    SavedModel (``saved_model()``, the one TFLite converts too) is then converted the way tf2onnx's command line
    does it, keeping the input names."""
    import tf2onnx
    from tf2onnx import tf_loader

    signature = [tf.TensorSpec((None, *tensor.shape[1:]), tensor.dtype, name=tensor.name) for tensor in model.inputs]
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        with silenced_stderr():
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset)
        route = "keras"
    except Exception:  # noqa: BLE001 - tf2onnx raises plain exceptions for unsupported ops and opsets
        try:
            with silenced_stderr():
                graph, inputs, outputs, renames = tf_loader.from_saved_model(
                    str(saved_model()), None, None, return_tensors_to_rename=True)
                proto, _ = tf2onnx.convert.from_graph_def(graph, input_names=inputs, output_names=outputs,
                                                          opset=opset, tensors_to_rename=renames)
            route = "saved_model"
        except Exception as err:  # noqa: BLE001
            raise ExportError(f"ONNX conversion (opset {opset}) failed from the Keras model and from its "
                              f"SavedModel: {first_line(err)}") from None
    _write(proto, path, labels, producer)
    return route


def quantize(fp32_path: Path, path: Path, calibration: Iterable[dict], *, samples: int, labels: Sequence[str],
             producer: str, scratch: Path, quant_format: str = "qdq", keep_float: Optional[FloatScope] = None,
             calibrate: str = "percentile", percentile: float = 99.99) -> int:
    """Static int8 quantization of an ONNX model: per-channel int8 weights, uint8 activations calibrated on
    ``calibration``, an iterable of ``samples`` batch-1 input dicts keyed by input name. ORT is handed them a chunk
    at a time: its histogram calibrators (percentile, entropy) otherwise keep every activation of every sample in
    memory at once (12.6 GB for 300 images through a 224 px MobileNetV1; entropy ran out of 24 GB).

    ``calibrate``: percentile ranges leave out the rarest extreme activations, which min/max ranges stretch to
    (coarse steps for every other value: on a fused image+text model min/max flipped decisions the Keras model made
    at 0.99). Nodes that ``keep_float`` names stay float; MatMul and Gather nodes with a weight (initializer) input
    are the ones that carry weights. Intermediate models go to a temporary folder inside ``scratch``.

    Returns the number of nodes kept float."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quant_pre_process, quantize_static)

    class Reader(CalibrationDataReader):
        """ORT's strided calibration calls ``set_range`` for each chunk in order, then reads it to its end."""

        def __init__(self):
            self.samples = iter(calibration)
            self.left_in_chunk = 0

        def __len__(self):
            return samples

        def set_range(self, start_index: int, end_index: int):
            self.left_in_chunk = end_index - start_index

        def get_next(self):
            if self.left_in_chunk == 0:
                return None
            self.left_in_chunk -= 1
            return next(self.samples, None)

    with tempfile.TemporaryDirectory(dir=scratch) as work:
        prepared = Path(work) / "prepared.onnx"
        quantized = Path(work) / "quantized.onnx"
        try:
            # ORT prints a line per calibration chunk to stdout
            with silenced_stderr(), contextlib.redirect_stdout(io.StringIO()):
                # skip_symbolic_shape: the symbolic shape pass needs sympy and adds nothing for fixed-size images.
                quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
                excluded = [] if keep_float is None else _float_nodes(onnx.load(str(prepared)).graph, keep_float)
                quantize_static(str(prepared), str(quantized), Reader(),
                                quant_format=QuantFormat.QDQ if quant_format == "qdq" else QuantFormat.QOperator,
                                per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                nodes_to_exclude=excluded,
                                calibrate_method=getattr(CalibrationMethod, _CALIBRATION_METHODS[calibrate]),
                                extra_options={"CalibPercentile": percentile,
                                               "CalibStridedMinMax": calibration_chunk(samples)})
        except Exception as err:  # noqa: BLE001 - ORT's quantizer raises plain exceptions
            raise ExportError(f"ONNX int8 quantization failed: {first_line(err)}") from None
        _write(onnx.load(str(quantized)), path, labels, producer)
    return len(excluded)


_CALIBRATION_METHODS = {"percentile": "Percentile", "minmax": "MinMax", "entropy": "Entropy"}  # ORT's names
CALIBRATION_CHUNK = 10  # samples whose activations calibration holds at once (2.6 GB peak: 224 px MobileNetV1)


def calibration_chunk(samples: int) -> int:
    """The largest chunk of at most CALIBRATION_CHUNK samples that divides ``samples`` (ORT requires it)."""
    return max(size for size in range(1, min(samples, CALIBRATION_CHUNK) + 1) if samples % size == 0)


def _float_nodes(graph: onnx.GraphProto, scope: FloatScope) -> list[str]:
    """tf2onnx renames the Conv nodes it fuses (``Conv__339``), but their weights keep the layer's name
    (``.../Conv1_1/convolution/merged_input:0``), so a node can also be known by its weight inputs' names."""
    weights = {initializer.name for initializer in graph.initializer}
    kept = []
    for node in graph.node:
        weight_inputs = [name for name in node.input if name in weights]
        is_weight_op = node.op_type in ("MatMul", "Gather") and bool(weight_inputs)
        names = (node.name, *weight_inputs) if scope.by_weight_names else (node.name,)
        if any(scope.keeps_float(name, is_weight_op) for name in names):
            kept.append(node.name)
    return kept


def _write(proto: onnx.ModelProto, path: Path, labels: Sequence[str], producer: str) -> None:
    props = {p.key: p.value for p in proto.metadata_props}
    onnx.helper.set_model_props(proto, {**props, ONNX_LABELS_KEY: json.dumps(list(labels)), "producer": producer})
    onnx.save(proto, str(path))
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as err:
        raise ExportError(f"the ONNX model fails onnx.checker: {first_line(err)}") from None
