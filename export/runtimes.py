"""One predictor per artifact type, each run by its own runtime: LiteRT for .tflite, ONNX Runtime for .onnx.

Every predictor takes float32 images in raw 0-255 RGB (what the Keras model takes) and returns probabilities;
quantized inputs and outputs are converted with the artifact's own quantization parameters. Labels come from the
artifact's metadata, so a file copied away from its run folder still names its classes. Models that read text
take int32 token ids and padding masks; ``predict_images`` makes them with the tokenizer.json next to the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from keras_tl.export.metadata import read_labels
from keras_tl.export.artifacts import FAILED_SUFFIX, FORMAT_SUFFIX
from keras_tl.export.errors import first_line
from keras_tl.quiet import silenced_stderr
from keras_tl.errors import KerasTLError
from keras_tl.data import TEXT_INPUTS, TextTokenizer
from keras_tl.models import IMAGE_INPUT

TOKENIZER_FILE = "tokenizer.json"

ONNX_LABELS_KEY = "labels"


class _Predictor:
    runtime = ""
    input_names: list[str]

    def __init__(self, path: Path, labels: Optional[list[str]], num_classes: int, image_size: Optional[int]):
        self.path = path
        self.labels = labels or [str(i) for i in range(num_classes)]
        self.image_size = image_size  # None: a text-only model

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def predict_images(self, images: Optional[np.ndarray], text: Optional[str] = None) -> np.ndarray:
        """Probabilities for each image (with the same ``text`` for image+text models), or for the text alone."""
        takes_text = any(name in TEXT_INPUTS for name in self.input_names)
        if not takes_text:
            if text is not None:
                raise KerasTLError(f"{self.path.name} takes no text input; leave out --text")
            return self.predict({IMAGE_INPUT: np.asarray(images, dtype=np.float32)})
        if text is None:
            raise KerasTLError(f'{self.path.name} also takes a text: pass it with --text "..."')
        count = 1 if self.image_size is None else len(images)
        inputs = self.tokenizer().encode([text] * count)
        if self.image_size is not None:
            inputs[IMAGE_INPUT] = np.asarray(images, dtype=np.float32)
        # Exported files run at batch 1 (TFLite inputs have a fixed batch size); one image at a time.
        return np.concatenate([self.predict({k: v[i:i + 1] for k, v in inputs.items()}) for i in range(count)])

    def tokenizer(self) -> TextTokenizer:
        """The tokenizer.json that export writes next to the artifacts, the one the model was trained with."""
        path = self.path.parent / TOKENIZER_FILE
        if not path.is_file():
            raise KerasTLError(f"{self.path.name} takes text but {path} is missing; copy the tokenizer.json "
                               "from the run's export folder next to it")
        return TextTokenizer.load(path)


class TFLitePredictor(_Predictor):
    runtime = "ai_edge_litert"

    def __init__(self, path: str | Path, threads: Optional[int] = None):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        content = path.read_bytes()
        try:
            with silenced_stderr():  # LiteRT announces its XNNPACK delegate on fd 2 when it first allocates
                self.interpreter = Interpreter(model_content=content, num_threads=threads)
                self.interpreter.allocate_tensors()
            self.runner = self.interpreter.get_signature_runner()
        except (ValueError, RuntimeError) as err:
            raise KerasTLError(f"LiteRT cannot load {path}: {first_line(err, 240)}") from None
        self.inputs = self.runner.get_input_details()
        self.input_names = list(self.inputs)
        (self.output_name, self.output), = self.runner.get_output_details().items()
        image = self.inputs.get(IMAGE_INPUT)
        super().__init__(path, read_labels(content), int(self.output["shape"][-1]),
                         None if image is None else int(image["shape"][1]))

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {name: _quantize(inputs[name], self.inputs[name]) for name in self.input_names}
        out = self.runner(**feed)[self.output_name]
        return _dequantize(out, self.output)


class ONNXPredictor(_Predictor):
    runtime = "onnxruntime"

    def __init__(self, path: str | Path, threads: Optional[int] = None):
        import onnxruntime as ort

        path = Path(path)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - ORT raises its own exception types for unreadable files
            raise KerasTLError(f"ONNX Runtime cannot load {path}: {first_line(err, 240)}") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        image = next((i for i in self.session.get_inputs() if i.name == IMAGE_INPUT), None)
        raw_labels = self.session.get_modelmeta().custom_metadata_map.get(ONNX_LABELS_KEY)
        labels = json.loads(raw_labels) if raw_labels else None
        super().__init__(path, labels, int(self.session.get_outputs()[0].shape[-1]),
                         None if image is None else int(image.shape[1]))

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, {name: inputs[name] for name in self.input_names})[0]


PREDICTORS = {"tflite": TFLitePredictor, "onnx": ONNXPredictor}


def predictor_for(path: str | Path, threads: Optional[int] = None,
                  warn: Optional[Callable[[str], None]] = None) -> _Predictor:
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
    return PREDICTORS[fmt](path, threads)


def _quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return values.astype(dtype, copy=False)
    scale, zero_point = detail["quantization"]
    if scale:
        values = np.round(values / scale + zero_point)
    info = np.iinfo(dtype)
    return np.clip(values, info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if np.dtype(detail["dtype"]).kind == "f" or not scale:
        return values.astype(np.float32, copy=False)
    return (values.astype(np.float32) - zero_point) * scale

