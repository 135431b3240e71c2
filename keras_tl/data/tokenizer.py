"""Tokenization for the text tower with the ``tokenizers`` package (no TensorFlow needed).

The tokenizer is built once from the checkpoint's own tokenizer files, in its family's way (WordPiece for BERT and
DistilBERT, byte-level BPE for RoBERTa, SentencePiece for XLM-RoBERTa and ALBERT), and saved in the run folder as
``tokenizer.json`` (the ``tokenizers`` format, with the family's start and end tokens, truncation and padding to
``text.max_length`` inside). Training, evaluation, predict and an edge runner all load that one file, so they all
see the same token ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

import numpy as np
from tokenizers import Tokenizer

from keras_tl.data.byte_bpe import byte_bpe_tokenizer
from keras_tl.data.sentencepiece_unigram import sentencepiece_tokenizer
from keras_tl.data.wordpiece import wordpiece_tokenizer
from keras_tl.errors import DataError
from keras_tl.text_checkpoint import text_family

TOKEN_IDS_INPUT = "token_ids"
PADDING_MASK_INPUT = "padding_mask"
TEXT_INPUTS = (TOKEN_IDS_INPUT, PADDING_MASK_INPUT)
BUILDERS = {"wordpiece": wordpiece_tokenizer, "byte_bpe": byte_bpe_tokenizer, "sentencepiece": sentencepiece_tokenizer}


class TextTokenizer:
    """Texts -> {"token_ids", "padding_mask"} int32 arrays of shape [n, max_length]."""

    def __init__(self, tokenizer: Tokenizer):
        if not tokenizer.truncation or not tokenizer.padding:
            raise DataError("the tokenizer must truncate and pad to a fixed length")
        self.tokenizer = tokenizer

    @classmethod
    def from_checkpoint(cls, checkpoint: Union[Path, str], max_length: int, encoder: str = "auto"
                        ) -> "TextTokenizer":
        """Build from a Hugging Face folder, a keras-hub preset folder or a keras-hub preset name; ``encoder`` is
        ``text.encoder`` (auto: the family the checkpoint names)."""
        family = text_family(checkpoint, encoder)
        tokenizer, pad_token = BUILDERS[family.tokenization](checkpoint, family)
        pad_id = tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise DataError(f"the vocabulary of {checkpoint} has no padding token {pad_token}")
        tokenizer.enable_truncation(max_length)
        tokenizer.enable_padding(length=max_length, pad_id=pad_id, pad_token=pad_token)
        return cls(tokenizer)

    @classmethod
    def load(cls, path: Union[Path, str]) -> "TextTokenizer":
        path = Path(path)
        if not path.is_file():
            raise DataError(f"tokenizer file not found: {path}")
        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: Union[Path, str]) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        self.tokenizer.save(str(tmp))
        tmp.replace(path)

    @property
    def max_length(self) -> int:
        return int(self.tokenizer.truncation["max_length"])

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        encodings = self.tokenizer.encode_batch([str(t) for t in texts])
        shape = (len(encodings), self.max_length)
        ids = np.array([e.ids for e in encodings], dtype="int32").reshape(shape)
        mask = np.array([e.attention_mask for e in encodings], dtype="int32").reshape(shape)
        return {TOKEN_IDS_INPUT: ids, PADDING_MASK_INPUT: mask}
