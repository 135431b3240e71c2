"""A classifier file (.tflite with LiteRT, .onnx with ONNX Runtime) that takes RGB pixels (and token ids) and gives
probabilities.

This is keras_tl's one runtime: the edge runner, ``keras-tl predict`` on an artifact, export verification and the
benchmark all run a file through these classes, so what export verifies is what a device runs. Everything needed to
feed the model comes from the file: the labels, which input is the image, its size, the normalization its metadata
asks for, and the quantization of integer inputs and outputs.
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

    def value(self, values: np.ndarray) -> np.ndarray:
        """The model's input for a batch of values (float pixels 0-255 for the image, token arrays for a text):
        normalized as the metadata asks (images), then quantized with the input's own parameters if integer."""
        values = np.asarray(values)
        if self.is_image:
            values = values.astype(np.float32, copy=False)
            if self.metadata is not None:
                values = (values - np.asarray(self.metadata.mean, np.float32)) / np.asarray(self.metadata.std,
                                                                                           np.float32)
        if np.issubdtype(self.dtype, np.floating):
            return values.astype(self.dtype, copy=False)
        if self.scale:
            values = np.round(values.astype(np.float32, copy=False) / self.scale + self.zero_point)
        info = np.iinfo(self.dtype)
        return np.clip(values, info.min, info.max).astype(self.dtype)


class EdgeModel:
    """Subclasses pass the inputs and labels they read from the file and implement ``_run``."""

    runtime = ""

    def __init__(self, path: Path, inputs: list[ModelInput], labels: Optional[list[str]], num_classes: int):
        self.path = path
        self.inputs = inputs
        images = [i for i in inputs if i.is_image]
        if len(images) > 1:
            raise EdgeError(f"{path.name}: expected at most one image input, found {len(images)} among "
                            f"{', '.join(i.name for i in inputs)}")
        self.image_input = images[0] if images else None
        self.image_size: Optional[int] = None  # None: a text-only model
        if self.image_input is not None:
            if not all(isinstance(d, int) and d > 0 for d in self.image_input.shape[1:3]):
                raise EdgeError(f"{path.name}: the image input has no fixed size ({self.image_input.shape})")
            self.image_size = int(self.image_input.shape[1])
        self.text_inputs = [i.name for i in inputs if not i.is_image]
        self.labels = labels if labels and len(labels) == num_classes else [str(i) for i in range(num_classes)]

    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    @property
    def takes_text(self) -> bool:
        return bool(self.text_inputs)

    def run(self, inputs: dict[str, np.ndarray], *, batched: bool = False) -> np.ndarray:
        """Probabilities [n, classes] of n samples; ``inputs`` holds n rows of every input of the model, by name:
        the image as float pixels 0-255 [n, size, size, 3], a text as its token arrays [n, length].

        The samples run one per call, as the edge runner runs them, so these are a device's probabilities bit for
        bit (a runtime may round a batch differently). ``batched``: ONNX Runtime takes them in one call instead
        (throughput); TFLite files hold one sample per call whatever is asked."""
        return self._run(self._feed(inputs), batched)

    def predict(self, pixels: Optional[np.ndarray],
                tokens: Optional[dict[str, np.ndarray]] = None) -> tuple[np.ndarray, float]:
        """(probabilities, milliseconds the runtime took) for one [size, size, 3] float image 0-255 (None for a
        text-only model) and, for a model that reads text, the token arrays of one text."""
        inputs = {}
        if self.image_input is None:
            if pixels is not None:
                raise EdgeError(f"{self.path.name} takes only a text, no image")
        elif pixels is None:
            raise EdgeError(f"{self.path.name} takes an image")
        else:
            inputs[self.image_input.name] = np.asarray(pixels)[None]
        if self.takes_text:
            if tokens is None:
                raise EdgeError(f"{self.path.name} also takes a text ({', '.join(self.text_inputs)})")
            missing = [name for name in self.text_inputs if name not in tokens]
            if missing:
                raise EdgeError(f"{self.path.name} takes inputs the tokenizer does not give: {', '.join(missing)}")
            inputs.update({name: tokens[name] for name in self.text_inputs})
        elif tokens is not None:
            raise EdgeError(f"{self.path.name} takes no text")
        feed = self._feed(inputs)
        start = time.perf_counter()
        out = self._run(feed, False)[0]
        return out, (time.perf_counter() - start) * 1000.0

    def _feed(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise EdgeError(f"{self.path.name} also takes {', '.join(missing)}")
        feed = {spec.name: spec.value(inputs[spec.name]) for spec in self.inputs}
        if len({len(value) for value in feed.values()}) != 1:
            raise EdgeError(f"{self.path.name}: its inputs were given different numbers of rows")
        return feed

    def _run(self, feed: dict[str, np.ndarray], batched: bool) -> np.ndarray:
        """Probabilities [n, classes] (float32) for a feed of the model's own dtypes."""
        raise NotImplementedError


class TFLiteModel(EdgeModel):
    runtime = "ai_edge_litert"

    def __init__(self, path: str | Path, threads: Optional[int] = None):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        content = path.read_bytes()
        try:
            self.interpreter = Interpreter(model_content=content, num_threads=threads)
            self.interpreter.allocate_tensors()
            metadata = read_metadata(content)
        except (ValueError, RuntimeError) as err:
            raise EdgeError(f"LiteRT cannot load {path}: {_first_line(err)}") from None
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

    def _run(self, feed: dict[str, np.ndarray], batched: bool) -> np.ndarray:
        # The file's tensors hold one sample (TFLite shapes are fixed): one row per invoke.
        rows = []
        for row in range(len(next(iter(feed.values())))):
            for name, value in feed.items():
                self.interpreter.set_tensor(self._index[name], value[row:row + 1])
            self.interpreter.invoke()
            rows.append(self.interpreter.get_tensor(self.output["index"])[0])
        out = np.stack(rows)
        scale, zero_point = self.output["quantization"]
        if np.issubdtype(out.dtype, np.integer) and scale:
            return (out.astype(np.float32) - zero_point) * scale
        return out.astype(np.float32)


class ONNXModel(EdgeModel):
    """keras_tl's .onnx files take raw 0-255 pixels (the preprocessing is inside), so no normalization applies."""

    runtime = "onnxruntime"

    def __init__(self, path: str | Path, threads: Optional[int] = None):
        path = Path(path)
        self.session = onnx_session(path, threads)
        inputs = [ModelInput(i.name, np.dtype(ONNX_TYPES.get(i.type, np.float32)), tuple(i.shape))
                  for i in self.session.get_inputs()]
        raw = self.session.get_modelmeta().custom_metadata_map.get(ONNX_LABELS_KEY)
        super().__init__(path, inputs, json.loads(raw) if raw else None, int(self.session.get_outputs()[0].shape[-1]))
        # keras_tl's files take any batch; a file made elsewhere may fix it to 1
        self._takes_batches = not any(spec.shape and spec.shape[0] == 1 for spec in inputs)

    def _run(self, feed: dict[str, np.ndarray], batched: bool) -> np.ndarray:
        if batched and self._takes_batches:
            return self._call(feed)
        rows = range(len(next(iter(feed.values()))))
        return np.concatenate([self._call({name: value[r:r + 1] for name, value in feed.items()}) for r in rows])

    def _call(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.session.run(None, feed)[0], dtype=np.float32)


def onnx_session(path: Path, threads: Optional[int] = None):
    """An ONNX Runtime CPU session with its settings chosen, not left to defaults (see docs/export.md)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise EdgeError(".onnx models need ONNX Runtime: pip install onnxruntime") from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # ALL includes the layout pass that runs convolutions in ORT's blocked NCHWc format; without it
    # (ORT_ENABLE_EXTENDED) a 224 px MobileNetV2 ran up to 2.3 times slower at fp32.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # A classifier is a chain of ops: the threads go into each op, not into running ops side by side.
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    # Idle threads sleep instead of spin-waiting for the next op: on CPUs that other processes share, spinning
    # threads took the time the working one needed (the same model ran up to 2 times slower; both measured in
    # benchmarks/results/onnx_runtime.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - ORT raises its own exception types for unreadable files
        raise EdgeError(f"ONNX Runtime cannot load {path}: {_first_line(err)}") from None


RUNTIMES = {".tflite": TFLiteModel, ".onnx": ONNXModel}


def open_model(path: str | Path, threads: Optional[int] = None, *, suffix: Optional[str] = None) -> EdgeModel:
    """The model in ``path``, run by the runtime its suffix names (``suffix`` overrides it: ".tflite"/".onnx")."""
    path = Path(path)
    if not path.is_file():
        raise EdgeError(f"model not found: {path}")
    runtime = RUNTIMES.get((suffix or path.suffix).lower())
    if runtime is None:
        raise EdgeError(f"{path.name} is neither a .tflite nor an .onnx file")
    return runtime(path, threads)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__
