"""Checks the pruning and QAT tests share: top-1 accuracy of outputs, and what a full-int8 TFLite file holds."""

from __future__ import annotations

import numpy as np


def accuracy(outputs, targets):
    return float(np.mean(np.argmax(outputs, axis=-1) == targets))


def assert_full_int8(model_bytes: bytes) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert source["dtype"] == np.uint8 and tuple(source["quantization"]) == (1.0, 0)  # raw 0-255 pixels as they are
    assert sink["dtype"] == np.float32
    float_tensors = {d["name"] for d in interpreter.get_tensor_details() if d["dtype"] == np.float32}
    assert float_tensors == {sink["name"]}  # every op computes in int8; only the probabilities are dequantized
