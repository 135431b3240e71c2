"""What a .tflite file says about itself: labels, and for each input its normalization and colour space.

The TFLite model metadata (the format MediaPipe Tasks and Model Maker use) is a flatbuffer stored in one of the
model's buffers under the name "TFLITE_METADATA"; its associated files (labels.txt) are a zip archive appended
to the model. The model's own schema comes with ``ai-edge-litert``; the metadata schema's generated code ships
only in packages that bring TensorFlow or conflicting pins along, so the few fields needed here are read by
their slot numbers in the public ``metadata_schema.fbs``. A union field takes two slots: its type, then its value.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Optional

import flatbuffers
from ai_edge_litert import schema_py_generated as tflite_schema
from flatbuffers import number_types

METADATA_NAME = b"TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
LABELS_FILE = "labels.txt"

# Enum values of metadata_schema.fbs.
TENSOR_AXIS_LABELS = 2  # AssociatedFileType
COLOR_SPACES = {0: "unknown", 1: "rgb", 2: "grayscale"}  # ColorSpaceType
IMAGE_PROPERTIES = 2  # ContentProperties union member
NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions union member


@dataclass
class InputMetadata:
    name: str = ""
    is_image: bool = False
    color_space: str = "unknown"
    mean: list[float] = field(default_factory=lambda: [0.0])
    std: list[float] = field(default_factory=lambda: [1.0])


@dataclass
class ModelMetadata:
    name: str = ""
    description: str = ""
    inputs: list[InputMetadata] = field(default_factory=list)
    labels_file: Optional[str] = None


class _Table:
    """One flatbuffer table; fields are addressed by their slot (declaration order) in the schema."""

    def __init__(self, data: bytes, position: int):
        self.table = flatbuffers.table.Table(data, position)

    def _offset(self, slot: int) -> int:
        return self.table.Offset(4 + 2 * slot)

    def string(self, slot: int) -> str:
        offset = self._offset(slot)
        return self.table.String(self.table.Pos + offset).decode("utf-8") if offset else ""

    def byte(self, slot: int) -> int:
        return self.table.GetSlot(4 + 2 * slot, 0, number_types.Uint8Flags)

    def floats(self, slot: int) -> list[float]:
        offset = self._offset(slot)
        return self.table.GetVectorAsNumpy(number_types.Float32Flags, offset).tolist() if offset else []

    def child(self, slot: int) -> Optional["_Table"]:
        offset = self._offset(slot)
        return _Table(self.table.Bytes, self.table.Indirect(self.table.Pos + offset)) if offset else None

    def children(self, slot: int) -> list["_Table"]:
        offset = self._offset(slot)
        if not offset:
            return []
        start = self.table.Vector(offset)
        return [_Table(self.table.Bytes, self.table.Indirect(start + 4 * i))
                for i in range(self.table.VectorLen(offset))]


def metadata_buffer(content: bytes) -> Optional[bytes]:
    """The raw metadata flatbuffer of a .tflite file, or None when it has none."""
    model = tflite_schema.Model.GetRootAs(content, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() != METADATA_NAME:
            continue
        buffer = model.Buffers(entry.Buffer())
        if buffer.Offset() > 1:  # models over 2 GB keep buffers after the flatbuffer
            return content[buffer.Offset():buffer.Offset() + buffer.Size()]
        return buffer.DataAsNumpy().tobytes() if buffer.DataLength() else None
    return None


def read_metadata(content: bytes) -> Optional[ModelMetadata]:
    """The metadata of a .tflite file's main subgraph, or None when the file carries none."""
    data = metadata_buffer(content)
    if data is None or data[4:8] != METADATA_IDENTIFIER:
        return None
    root = _Table(data, flatbuffers.encode.Get(number_types.UOffsetTFlags.packer_type, data, 0))
    # ModelMetadata: name 0, description 1, subgraph_metadata 3
    found = ModelMetadata(name=root.string(0), description=root.string(1))
    subgraphs = root.children(3)
    if not subgraphs:
        return found
    # SubGraphMetadata: input_tensor_metadata 2, output_tensor_metadata 3
    found.inputs = [_input(tensor) for tensor in subgraphs[0].children(2)]
    for output in subgraphs[0].children(3):
        for associated in output.children(6):  # TensorMetadata.associated_files
            if associated.byte(2) == TENSOR_AXIS_LABELS:  # AssociatedFile: name 0, type 2
                found.labels_file = associated.string(0)
                return found
    return found


def _input(tensor: _Table) -> InputMetadata:
    # TensorMetadata: name 0, content 3, process_units 4
    found = InputMetadata(name=tensor.string(0))
    content = tensor.child(3)
    if content is not None and content.byte(0) == IMAGE_PROPERTIES:  # Content: properties type 0, value 1
        found.is_image = True
        properties = content.child(1)  # ImageProperties: color_space 0
        found.color_space = COLOR_SPACES.get(properties.byte(0) if properties else 0, "unknown")
    for unit in tensor.children(4):
        if unit.byte(0) == NORMALIZATION_OPTIONS:  # ProcessUnit: options type 0, value 1
            options = unit.child(1)  # NormalizationOptions: mean 0, std 1
            found.mean, found.std = options.floats(0) or [0.0], options.floats(1) or [1.0]
    return found


def read_associated_file(content: bytes, name: str) -> Optional[str]:
    """A text file from the zip appended to the model, or None when the model carries no such file."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return archive.read(name).decode("utf-8")
    except (zipfile.BadZipFile, KeyError):
        return None


def read_labels(content: bytes, metadata: Optional[ModelMetadata]) -> Optional[list[str]]:
    text = read_associated_file(content, (metadata and metadata.labels_file) or LABELS_FILE)
    return None if text is None else [line for line in text.splitlines() if line]
