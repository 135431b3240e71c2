"""TFLite model metadata: labels and input normalization embedded in the .tflite, as MediaPipe Tasks reads them.

No installable package ships the metadata schema's Python code without pins that conflict with ours
(tflite-support pins protobuf<4, mediapipe pins absl-py~=2.3 and its writers are broken), so the metadata
flatbuffer is written here with the ``flatbuffers`` package, field by field from the public
``metadata_schema.fbs`` (schema version 1.x, file identifier "M001"). Slot numbers below are the field positions in
that schema; a union field takes two slots (its type, then its value).

Where it goes follows the TFLite convention: the flatbuffer is a buffer of the model named by the model's
``metadata`` entry "TFLITE_METADATA", and associated files (labels.txt) are a zip archive appended to the model.
The runtime (``keras_tl.edge.tflite_metadata``) reads them back.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Optional, Sequence

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as tflite_schema

from keras_tl.data import PADDING_MASK_INPUT, TOKEN_IDS_INPUT
# The reader's names and enum values (keras_tl.edge reads what is written here)
from keras_tl.edge.tflite_metadata import (IMAGE_PROPERTIES, LABELS_FILE, METADATA_IDENTIFIER, METADATA_NAME,
                                           NORMALIZATION_OPTIONS, TENSOR_AXIS_LABELS)

MODEL_IDENTIFIER = b"TFL3"
MIN_PARSER_VERSION = "1.0.0"  # every field written here exists since schema 1.0.0

# Enum values of metadata_schema.fbs that only the writer needs.
_RGB = 1  # ColorSpaceType
_FEATURE_PROPERTIES = 1  # ContentProperties union member


@dataclass(frozen=True)
class InputInfo:
    name: str
    is_image: bool


class _Writer:
    """The few flatbuffers primitives the metadata tables need."""

    def __init__(self):
        self.builder = flatbuffers.Builder(1024)

    def string(self, text: str) -> int:
        return self.builder.CreateString(text)

    def floats(self, values: Sequence[float]) -> int:
        return self.builder.CreateNumpyVector(np.asarray(values, dtype="<f4"))

    def tables(self, offsets: Sequence[int]) -> int:
        self.builder.StartVector(4, len(offsets), 4)
        for offset in reversed(offsets):
            self.builder.PrependUOffsetTRelative(offset)
        return self.builder.EndVector()

    def table(self, offsets: Optional[dict] = None, bytes_: Optional[dict] = None,
              uints: Optional[dict] = None) -> int:
        """A table from {slot: value}: offsets (strings, vectors, tables), byte enums and uint32 scalars."""
        offsets, bytes_, uints = offsets or {}, bytes_ or {}, uints or {}
        b = self.builder
        b.StartObject(1 + max([*offsets, *bytes_, *uints], default=-1))
        for slot, value in bytes_.items():
            b.PrependUint8Slot(slot, value, 0)
        for slot, value in uints.items():
            b.PrependUint32Slot(slot, value, 0)
        for slot, value in offsets.items():
            b.PrependUOffsetTRelativeSlot(slot, value, 0)
        return b.EndObject()


def build_metadata(labels: Sequence[str], inputs: Sequence[InputInfo], *, image_size: int, name: str,
                   description: str, version: str) -> bytes:
    """The ModelMetadata flatbuffer of a classifier that takes raw 0-255 RGB and outputs class probabilities."""
    w = _Writer()
    input_tables = [_image_tensor(w, info.name, image_size) if info.is_image else _feature_tensor(w, info.name)
                    for info in inputs]
    output_table = _probabilities_tensor(w, len(labels))
    subgraph = w.table(offsets={0: w.string(name), 2: w.tables(input_tables), 3: w.tables([output_table])})
    model = w.table(offsets={0: w.string(name), 1: w.string(description), 2: w.string(version),
                             3: w.tables([subgraph]), 7: w.string(MIN_PARSER_VERSION)})
    w.builder.Finish(model, file_identifier=METADATA_IDENTIFIER)
    return bytes(w.builder.Output())


def _image_tensor(w: _Writer, name: str, image_size: int) -> int:
    # The model holds its own preprocessing, so the "normalization" a runtime applies is the identity on 0-255
    # pixels (MediaPipe refuses a float image input without NormalizationOptions).
    size = w.table(uints={0: image_size, 1: image_size})  # ImageSize: width, height
    properties = w.table(offsets={1: size}, bytes_={0: _RGB})  # ImageProperties: color_space, default_size
    content = w.table(offsets={1: properties}, bytes_={0: IMAGE_PROPERTIES})  # Content: properties (union)
    normalization = w.table(offsets={0: w.floats([0.0]), 1: w.floats([1.0])})  # NormalizationOptions: mean, std
    unit = w.table(offsets={1: normalization}, bytes_={0: NORMALIZATION_OPTIONS})  # ProcessUnit: options (union)
    stats = w.table(offsets={0: w.floats([255.0]), 1: w.floats([0.0])})  # Stats: max, min
    description = w.string("RGB image, raw pixel values 0-255 (preprocessing is inside the model)")
    # TensorMetadata: name, description, content, process_units, stats
    return w.table(offsets={0: w.string(name), 1: description, 3: content, 4: w.tables([unit]), 5: stats})


def _feature_content(w: _Writer) -> int:
    return w.table(offsets={1: w.table()}, bytes_={0: _FEATURE_PROPERTIES})  # Content: FeatureProperties (empty)


# Text inputs: not a MediaPipe task input (no Tasks API classifies image+text), so plain features that name how
# to fill them; the tokenizer itself ships as tokenizer.json next to the artifact.
_INPUT_DESCRIPTIONS = {
    TOKEN_IDS_INPUT: "int32 WordPiece token ids ([CLS] text [SEP], padded), from the tokenizer.json exported with it",
    PADDING_MASK_INPUT: "int32 1 for each token of the text, 0 for padding (the same tokenizer.json gives it)",
}


def _feature_tensor(w: _Writer, name: str) -> int:
    offsets = {0: w.string(name), 3: _feature_content(w)}
    if name in _INPUT_DESCRIPTIONS:
        offsets[1] = w.string(_INPUT_DESCRIPTIONS[name])
    return w.table(offsets=offsets)


def _probabilities_tensor(w: _Writer, num_classes: int) -> int:
    labels_file = w.table(offsets={0: w.string(LABELS_FILE), 1: w.string("class names, one per line, in output order")},
                          bytes_={2: TENSOR_AXIS_LABELS})  # AssociatedFile: name, description, type
    content = _feature_content(w)
    stats = w.table(offsets={0: w.floats([1.0]), 1: w.floats([0.0])})
    description = w.string(f"probabilities of the {num_classes} classes")
    return w.table(offsets={0: w.string("probabilities"), 1: description, 3: content, 5: stats,
                            6: w.tables([labels_file])})


def attach_metadata(tflite: bytes, labels: Sequence[str], *, image_input: str, image_size: int, name: str,
                    description: str, version: str) -> bytes:
    """The model with its metadata buffer (replacing any earlier one) and labels.txt appended as a zip."""
    model = tflite_schema.ModelT.InitFromPackedBuf(tflite, 0)
    inputs = [InputInfo(n, n == image_input) for n in input_names(model)]
    metadata = build_metadata(labels, inputs, image_size=image_size, name=name, description=description,
                              version=version)
    model.metadata = [m for m in (model.metadata or []) if _as_bytes(m.name) != METADATA_NAME]
    buffer = tflite_schema.BufferT()
    buffer.data = np.frombuffer(metadata, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = tflite_schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata.append(entry)
    return append_labels(pack_model(model), labels)


def pack_model(model) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=MODEL_IDENTIFIER)
    return bytes(builder.Output())


def input_names(model) -> list[str]:
    """Names of the main subgraph's inputs, in order: the signature's names (the Keras input names) if present."""
    graph = model.subgraphs[0]
    by_index = {}
    for signature in model.signatureDefs or []:
        by_index.update({int(t.tensorIndex): _as_text(t.name) for t in signature.inputs or []})
    return [by_index.get(int(i), _as_text(graph.tensors[int(i)].name)) for i in graph.inputs]


def append_labels(tflite: bytes, labels: Sequence[str]) -> bytes:
    # Stored, not deflated: MediaPipe's metadata extractor reads associated files in place.
    out = io.BytesIO(tflite)
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(LABELS_FILE, "".join(label + "\n" for label in labels))
    return out.getvalue()


def _as_bytes(value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _as_text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
