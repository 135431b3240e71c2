"""TFLite conversion of a trained model's SavedModel: float32, float16, dynamic-range int8 and full-integer int8.

Converted from a SavedModel (``keras.Model.export``) because TFLiteConverter.from_keras_model does not take Keras 3
models. Builtin ops only unless ``allow_flex_ops``: a model that needs more fails with the names of the ops.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as tflite_schema

from keras_tl.export.metadata import input_names, pack_model
from keras_tl.quiet import silenced_stderr
from keras_tl.export.errors import ExportError, UnsupportedOpsError, first_line
from keras_tl.export.float_scope import FloatScope

PRECISIONS = ("fp32", "fp16", "dynamic", "int8")
_MISSING_OP_CODES = ("ERROR_NEEDS_FLEX_OPS", "ERROR_NEEDS_CUSTOM_OPS")
_WEIGHT_OPS = (tflite_schema.BuiltinOperator.FULLY_CONNECTED, tflite_schema.BuiltinOperator.GATHER)


def convert(saved_model_dir: Path, precision: str, *, representative: Optional[Callable[[], Iterable[dict]]] = None,
            image_input: str = "image", int8_image_input: str = "uint8", granularity: str = "per_channel",
            allow_flex_ops: bool = False) -> bytes:
    """A .tflite (bytes, without metadata) of the SavedModel at ``precision``.

    Full int8 (``int8``) needs ``representative``: a callable returning an iterable of batch-1 input dicts keyed by
    input name (what the converter needs for multi-input models). Its image input is uint8 by default, because
    MediaPipe Tasks refuses int8 images; its output stays float32 probabilities.
    """
    if precision not in PRECISIONS:
        raise ExportError(f"unknown TFLite precision '{precision}'; choose from {', '.join(PRECISIONS)}")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if precision == "int8" else tf.lite.OpsSet.TFLITE_BUILTINS]
    if allow_flex_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    if precision != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if precision == "int8":
        if representative is None:
            raise ExportError("full-integer int8 needs a representative dataset")
        converter.representative_dataset = representative
        converter.inference_input_type = tf.uint8 if int8_image_input == "uint8" else tf.float32
        # Per-tensor scales drop the per-channel scale/zero-point vectors, which dominate small models' size;
        # TF has no public switch for it.
        converter._experimental_disable_per_channel = granularity == "per_tensor"
    try:
        # The MLIR converter prints progress and errors straight to fd 2; calibration runs TF's own (deprecated)
        # interpreter, which warns about itself on every conversion.
        with silenced_stderr(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
            model = converter.convert()
    except Exception as err:  # noqa: BLE001 - ConverterError and friends; ops it cannot map become one line
        ops = unsupported_ops(err)
        if ops:
            raise UnsupportedOpsError(ops, allow_flex_ops) from None
        raise ExportError(f"TFLite conversion ({precision}) failed: {first_line(err)}") from None
    if precision == "int8" and int8_image_input == "uint8":
        model = pixel_valued_uint8_input(model, image_input)
    return model


def convert_int8_keeping_float(saved_model_dir: Path, representative: Callable[[], Iterable[dict]],
                               scope: FloatScope, *, granularity: str = "per_channel") -> bytes:
    """Int8 (calibrated on ``representative``) except the ops that ``scope`` keeps float32; inputs and output
    stay float32. Fully connected and embedding-lookup (gather) ops are the ones that carry weights.

    TF's only public way to leave chosen nodes unquantized is its QuantizationDebugger, which takes the names of
    those ops' output tensors. They come from a float conversion of the same SavedModel, which names tensors
    exactly as the calibrated model does."""
    float_model = tflite_schema.ModelT.InitFromPackedBuf(convert(saved_model_dir, "fp32"), 0)
    denylisted = []
    for op in float_model.subgraphs[0].operators:
        is_weight_op = _builtin_code(float_model, op) in _WEIGHT_OPS
        names = [_tensor_name(float_model, int(i)) for i in op.outputs]
        denylisted += [name for name in names if scope.keeps_float(name, is_weight_op)]
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter._experimental_disable_per_channel = granularity == "per_tensor"  # as in convert()
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylisted)
    try:
        with silenced_stderr(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
            debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=representative,
                                                                 debug_options=options)
            return debugger.get_nondebug_quantized_model()
    except Exception as err:  # noqa: BLE001 - as in convert()
        raise ExportError(f"TFLite conversion (int8, part of the text tower float) failed: {first_line(err)}") from None


def unsupported_ops(err: Exception) -> list[str]:
    """TF op names (without the ``tf.`` prefix) that a ConverterError reports as neither builtin nor allowed."""
    names = []
    for data in getattr(err, "errors", None) or []:  # ConverterErrorData protos
        code = type(data).ErrorCode.Name(data.error_code) if hasattr(type(data), "ErrorCode") else ""
        if code in _MISSING_OP_CODES and data.operator.name:
            names.append(data.operator.name)
    if not names:
        for listed in re.findall(r"(?:Custom|Flex|TF Select) ops: ([^\n]+)", str(err)):
            names += [n.strip() for n in listed.split(",")]
    return sorted({n.removeprefix("tf.") for n in names if n})


def pixel_valued_uint8_input(tflite: bytes, image_input: str) -> bytes:
    """Make the image input a uint8 input meaning pixel values exactly: scale 1, zero point 0.

    The converter's uint8 input gets its scale from the calibration images' observed range, so a set without a 0
    or 255 pixel would make a uint8 value mean something other than the pixel value -- but MediaPipe and cameras
    feed raw pixels. LiteRT Quantizer's file keeps the float32 input. Both follow the input with QUANTIZE ops into
    the calibrated int8 range, which LiteRT runs from uint8 as well, so only the input's own type and parameters
    change. Where a float op reads the input (the first layer kept float, export.int8_float_layers), a DEQUANTIZE
    op in front of it turns the uint8 pixels back into float32, so the file still takes what MediaPipe feeds.
    """
    model = tflite_schema.ModelT.InitFromPackedBuf(tflite, 0)
    graph = model.subgraphs[0]
    for name, index in zip(input_names(model), graph.inputs):
        tensor = graph.tensors[int(index)]
        if name != image_input or tensor.type not in (tflite_schema.TensorType.UINT8,
                                                      tflite_schema.TensorType.FLOAT32):
            continue
        q = tensor.quantization
        if tensor.type == tflite_schema.TensorType.UINT8 and q is not None and list(q.scale) == [1.0] \
                and list(q.zeroPoint) == [0]:
            return tflite
        consumers = [op for op in graph.operators if int(index) in [int(i) for i in op.inputs]]
        if not consumers or (tensor.type != tflite_schema.TensorType.FLOAT32
                             and not all(_is_quantize(model, op) for op in consumers)):
            return tflite  # an unexpected graph: keep the input as it is rather than guess
        float_readers = [op for op in consumers if not _is_quantize(model, op)]
        if float_readers:
            _read_through_dequantize(model, int(index), float_readers)
        tensor.type = tflite_schema.TensorType.UINT8
        tensor.quantization = tflite_schema.QuantizationParametersT()
        tensor.quantization.scale = np.array([1.0], dtype=np.float32)
        tensor.quantization.zeroPoint = np.array([0], dtype=np.int64)
        return pack_model(model)
    return tflite


def _read_through_dequantize(model, index: int, readers: list) -> None:
    """Give ``readers`` of input tensor ``index`` a float32 copy of it, made by a DEQUANTIZE op run first."""
    graph = model.subgraphs[0]
    source = graph.tensors[index]
    copy = tflite_schema.TensorT()
    copy.name = _tensor_name(model, index) + "_dequantized"
    copy.shape = np.array(source.shape, dtype=np.int32)
    copy.shapeSignature = None if source.shapeSignature is None else np.array(source.shapeSignature, np.int32)
    copy.type = tflite_schema.TensorType.FLOAT32
    copy.buffer = 0
    graph.tensors.append(copy)
    copy_index = len(graph.tensors) - 1
    for op in readers:
        op.inputs = np.array([copy_index if int(i) == index else int(i) for i in op.inputs], dtype=np.int32)
    dequantize = tflite_schema.OperatorT()
    dequantize.opcodeIndex = _opcode_index(model, tflite_schema.BuiltinOperator.DEQUANTIZE)
    dequantize.inputs = np.array([index], dtype=np.int32)
    dequantize.outputs = np.array([copy_index], dtype=np.int32)
    graph.operators.insert(0, dequantize)


def _opcode_index(model, builtin: int) -> int:
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = tflite_schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, tflite_schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def image_input_type(tflite: bytes, image_input: str) -> str:
    """The image input's dtype, for the report: uint8, int8 or float32."""
    names = {tflite_schema.TensorType.UINT8: "uint8", tflite_schema.TensorType.INT8: "int8"}
    model = tflite_schema.ModelT.InitFromPackedBuf(tflite, 0)
    graph = model.subgraphs[0]
    for name, index in zip(input_names(model), graph.inputs):
        if name == image_input:
            kind = graph.tensors[int(index)].type
            return names.get(kind, "float32")
    return "float32"


def _is_quantize(model, op) -> bool:
    return _builtin_code(model, op) == tflite_schema.BuiltinOperator.QUANTIZE


def _builtin_code(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _tensor_name(model, index: int) -> str:
    name = model.subgraphs[0].tensors[index].name
    return name.decode() if isinstance(name, bytes) else str(name)
