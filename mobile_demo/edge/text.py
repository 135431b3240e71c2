"""Token inputs of an image+text model, from the ``tokenizer.json`` shipped beside it.

keras_tl saves the tokenizer it trained with (the encoder family's WordPiece, byte-level BPE or SentencePiece
pipeline, its start and end tokens, truncation and padding to the model's length with the family's padding id) in
the ``tokenizers`` JSON format, so the edge encodes a text to the very ids the model was trained on, whichever
family it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .errors import EdgeError

TOKENIZER_FILE = "tokenizer.json"
# Input names of keras_tl's fused models, and the usual Hugging Face names for the same arrays.
IDS_INPUTS = ("token_ids", "input_ids")
MASK_INPUTS = ("padding_mask", "attention_mask")
TYPE_INPUTS = ("segment_ids", "token_type_ids")


class TextEncoder:
    def __init__(self, path: Path):
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise EdgeError("image+text models need the tokenizers package: pip install tokenizers") from None
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:  # noqa: BLE001 - tokenizers raises a bare Exception for malformed files
            raise EdgeError(f"cannot read the tokenizer {path}: {str(err).splitlines()[0][:200]}") from None
        if not self.tokenizer.padding or not self.tokenizer.truncation:
            raise EdgeError(f"{path} does not pad and truncate to a fixed length, which the model needs")
        self.path = path

    @classmethod
    def beside(cls, model: Path, explicit: Optional[str | Path] = None) -> "TextEncoder":
        path = Path(explicit) if explicit else model.with_name(TOKENIZER_FILE)
        if not path.is_file():
            raise EdgeError(f"{model.name} takes a text, but there is no {path.name} beside it "
                            f"(copy the run's tokenizer.json there, or pass --tokenizer)")
        return cls(path)

    def encode(self, text: str) -> dict[str, np.ndarray]:
        encoding = self.tokenizer.encode(text)
        arrays = (np.array([encoding.ids], np.int32), np.array([encoding.attention_mask], np.int32),
                  np.array([encoding.type_ids], np.int32))
        return {name: array for names, array in zip((IDS_INPUTS, MASK_INPUTS, TYPE_INPUTS), arrays)
                for name in names}
