"""A classifier file (.tflite with LiteRT, .onnx with ONNX Runtime) that takes RGB pixels and gives probabilities.

Everything the runner needs to feed the model comes from the file: the labels, which input is the image, its
size, the normalization its metadata asks for, and the quantization of integer inputs and outputs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import EdgeError
from .tflite_metadata import InputMetadata, read_labels, read_metadata

ONNX_LABELS_KEY = "labels"  # metadata_props entry keras_tl writes: a JSON list of class names
ONNX_TYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8,
              "tensor(int32)": np.int32, "tensor(int64)": np.int64}


@dataclass
class ModelInput:
    name: str
    dtype: np.dtype
    shape: tuple
    scale: float = 0.0  # quantization of integer inputs; 0: none
    zero_point: int = 0
    metadata: Optional[InputMetadata] = None

    @property
    def is_image(self) -> bool:
        if self.metadata is not None and self.metadata.is_image:
            return True
        return len(self.shape) == 4 and self.shape[-1] == 3

    def image_value(self, pixels: np.ndarray) -> np.ndarray:
        """The model's input for [size, size, 3] float pixels 0-255: normalized, then quantized if integer."""
        values = pixels[None].astype(np.float32)
        if self.metadata is not None:
            mean = np.asarray(self.metadata.mean, np.float32)
            std = np.asarray(self.metadata.std, np.float32)
            values = (values - mean) / std
        if np.issubdtype(self.dtype, np.floating):
            return values.astype(self.dtype)
        if self.scale:
            values = np.round(values / self.scale + self.zero_point)
        info = np.iinfo(self.dtype)
        return np.clip(values, info.min, info.max).astype(self.dtype)


class EdgeModel:
    """Subclasses set ``inputs`` and ``labels`` and implement ``_run``."""

    runtime = ""

    def __init__(self, path: Path, inputs: list[ModelInput], labels: Optional[list[str]], num_classes: int):
        self.path = path
        self.inputs = inputs
        images = [i for i in inputs if i.is_image]
        if len(images) != 1:
            raise EdgeError(f"{path.name}: expected one image input, found {len(images)} among "
                            f"{', '.join(i.name for i in inputs)}")
        self.image_input = images[0]
        if not all(isinstance(d, int) and d > 0 for d in self.image_input.shape[1:3]):
            raise EdgeError(f"{path.name}: the image input has no fixed size ({self.image_input.shape})")
        self.image_size = int(self.image_input.shape[1])
        self.text_inputs = [i.name for i in inputs if not i.is_image]
        self.labels = labels if labels and len(labels) == num_classes else [str(i) for i in range(num_classes)]

    @property
    def takes_text(self) -> bool:
        return bool(self.text_inputs)

    def predict(self, pixels: np.ndarray, tokens: Optional[dict[str, np.ndarray]] = None) -> tuple[np.ndarray, float]:
        """(probabilities, milliseconds the runtime took) for one [size, size, 3] float image 0-255."""
        feed = {self.image_input.name: self.image_input.image_value(pixels)}
        if self.takes_text:
            if tokens is None:
                raise EdgeError(f"{self.path.name} also takes a text ({', '.join(self.text_inputs)})")
            missing = [name for name in self.text_inputs if name not in tokens]
            if missing:
                raise EdgeError(f"{self.path.name} takes inputs the tokenizer does not give: {', '.join(missing)}")
            for spec in self.inputs:
                if spec.name in self.text_inputs:
                    feed[spec.name] = tokens[spec.name].astype(spec.dtype)
        elif tokens is not None:
            raise EdgeError(f"{self.path.name} takes no text")
        start = time.perf_counter()
        out = self._run(feed)
        return out, (time.perf_counter() - start) * 1000.0

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


class TFLiteModel(EdgeModel):
    runtime = "ai_edge_litert"

    def __init__(self, path: Path, threads: Optional[int] = None):
        from ai_edge_litert.interpreter import Interpreter

        content = path.read_bytes()
        try:
            self.interpreter = Interpreter(model_content=content, num_threads=threads)
            self.interpreter.allocate_tensors()
            metadata = read_metadata(content)
        except (ValueError, RuntimeError) as err:
            raise EdgeError(f"LiteRT cannot load {path}: {str(err).strip().splitlines()[0][:200]}") from None
        signature_names = self._signature_names()
        details = self.interpreter.get_input_details()
        described = metadata.inputs if metadata and len(metadata.inputs) == len(details) else [None] * len(details)
        inputs = []
        for detail, meta in zip(details, described):  # metadata lists inputs in the subgraph's order
            scale, zero_point = detail["quantization"]
            inputs.append(ModelInput(signature_names.get(detail["index"], detail["name"]), np.dtype(detail["dtype"]),
                                     tuple(int(d) for d in detail["shape"]), scale, int(zero_point), meta))
        self._index = {spec.name: d["index"] for spec, d in zip(inputs, details)}
        self.output = self.interpreter.get_output_details()[0]
        super().__init__(path, inputs, read_labels(content, metadata), int(self.output["shape"][-1]))

    def _signature_names(self) -> dict[int, str]:
        """Tensor index -> the signature's input name (the Keras input name), when the file has a signature."""
        signatures = self.interpreter.get_signature_list()
        if len(signatures) != 1:
            return {}
        runner = self.interpreter.get_signature_runner()
        return {detail["index"]: name for name, detail in runner.get_input_details().items()}

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        for name, value in feed.items():
            self.interpreter.set_tensor(self._index[name], value)
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self.output["index"])[0]
        scale, zero_point = self.output["quantization"]
        if np.issubdtype(out.dtype, np.integer) and scale:
            return (out.astype(np.float32) - zero_point) * scale
        return out.astype(np.float32)


class ONNXModel(EdgeModel):
    """keras_tl's .onnx files take raw 0-255 pixels (the preprocessing is inside), so no normalization applies."""

    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: Optional[int] = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise EdgeError(".onnx models need ONNX Runtime: pip install onnxruntime") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - ORT raises its own exception types for unreadable files
            raise EdgeError(f"ONNX Runtime cannot load {path}: {str(err).strip().splitlines()[0][:200]}") from None
        inputs = [ModelInput(i.name, np.dtype(ONNX_TYPES.get(i.type, np.float32)), tuple(i.shape))
                  for i in self.session.get_inputs()]
        raw = self.session.get_modelmeta().custom_metadata_map.get(ONNX_LABELS_KEY)
        super().__init__(path, inputs, json.loads(raw) if raw else None, int(self.session.get_outputs()[0].shape[-1]))

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.session.run(None, feed)[0][0], dtype=np.float32)


def open_model(path: str | Path, threads: Optional[int] = None) -> EdgeModel:
    path = Path(path)
    if not path.is_file():
        raise EdgeError(f"model not found: {path}")
    if path.suffix.lower() == ".tflite":
        return TFLiteModel(path, threads)
    if path.suffix.lower() == ".onnx":
        return ONNXModel(path, threads)
    raise EdgeError(f"{path.name} is neither a .tflite nor an .onnx file")
