"""Read a PyTorch state_dict saved in the legacy (pre-1.6, non-zip) format into numpy arrays, without torch.

That format is a stream of pickles (magic number, protocol version, system info, the state_dict whose tensors
refer to storages by key, the list of storage keys) followed by each storage's raw bytes, prefixed with its
element count. Only plain tensors of the standard storage types are accepted: the unpickler refuses every other
global, so a malicious file cannot run code.
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_tl.errors import ModelError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                   "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                   "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


@dataclass
class _Storage:
    dtype: type
    numel: int


@dataclass
class _TensorRef:
    key: str
    offset: int
    shape: tuple
    strides: tuple


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage_key, offset, shape, strides, *_: _TensorRef(storage_key, offset, tuple(shape),
                                                                               tuple(strides))
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a state_dict")

    def persistent_load(self, saved_id):
        if not (isinstance(saved_id, tuple) and saved_id and saved_id[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {saved_id!r:.80}")
        dtype, key, _location, numel, _view = saved_id[1:]
        self.storages.setdefault(key, _Storage(dtype, numel))
        return key


def read_legacy_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """name -> array (copied, C-contiguous) for every tensor of the state_dict at ``path``."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            if pickle.load(file) != _LEGACY_MAGIC:
                raise ModelError(f"{path} is not a legacy PyTorch state_dict")
            pickle.load(file)  # protocol version
            if not pickle.load(file).get("little_endian", True):
                raise ModelError(f"{path} was saved on a big-endian machine")
            unpickler = _StateDictUnpickler(file)
            refs = unpickler.load()
            data = {}
            for key in pickle.load(file):
                storage = unpickler.storages[key]
                (numel,) = struct.unpack("<q", file.read(8))
                data[key] = np.frombuffer(file.read(numel * np.dtype(storage.dtype).itemsize), dtype=storage.dtype)
    except (OSError, EOFError, pickle.UnpicklingError, struct.error, KeyError, ValueError, AttributeError) as err:
        raise ModelError(f"cannot read PyTorch state_dict {path}: {type(err).__name__}: {str(err)[:160]}") from None
    arrays = {}
    for name, ref in refs.items():
        flat = data[ref.key][ref.offset:]
        strides = tuple(s * flat.itemsize for s in ref.strides)
        arrays[name] = np.lib.stride_tricks.as_strided(flat, ref.shape, strides).copy()
    return arrays
