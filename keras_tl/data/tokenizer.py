"""WordPiece tokenization for the BERT text tower, with the ``tokenizers`` package (no TensorFlow needed).

The tokenizer is built once from the checkpoint's vocabulary and saved in the run folder as ``tokenizer.json``
(the ``tokenizers`` format, with [CLS]/[SEP], truncation and padding to ``text.max_length`` inside). Training,
evaluation, predict and an edge runner all load that one file, so they all see the same token ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence, Union

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from keras_tl.errors import DataError

TOKEN_IDS_INPUT = "token_ids"
PADDING_MASK_INPUT = "padding_mask"
TEXT_INPUTS = (TOKEN_IDS_INPUT, PADDING_MASK_INPUT)
SPECIAL_TOKENS = ("[UNK]", "[SEP]", "[CLS]", "[PAD]", "[MASK]")


class TextTokenizer:
    """Texts -> {"token_ids", "padding_mask"} int32 arrays of shape [n, max_length]."""

    def __init__(self, tokenizer: Tokenizer):
        if not tokenizer.truncation or not tokenizer.padding:
            raise DataError("the tokenizer must truncate and pad to a fixed length")
        self.tokenizer = tokenizer

    @classmethod
    def from_checkpoint(cls, checkpoint: Union[Path, str], max_length: int) -> "TextTokenizer":
        """Build from a Hugging Face folder (vocab.txt), a keras-hub preset folder or a keras-hub preset name."""
        vocab, lowercase, strip_accents = _wordpiece_settings(checkpoint)
        missing = [token for token in SPECIAL_TOKENS if token not in vocab]
        if missing:
            raise DataError(f"the vocabulary of {checkpoint} lacks the BERT special tokens {', '.join(missing)}")
        # The same pipeline as Hugging Face's BertTokenizerFast (and tokenizers' BertWordPieceTokenizer).
        tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                          strip_accents=strip_accents, lowercase=lowercase)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
        tokenizer.decoder = decoders.WordPiece()
        tokenizer.enable_truncation(max_length)
        tokenizer.enable_padding(length=max_length, pad_id=vocab["[PAD]"], pad_token="[PAD]")
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


def _wordpiece_settings(checkpoint: Union[Path, str]) -> tuple[dict[str, int], bool, bool]:
    """(vocabulary, lowercase, strip_accents) exactly as the checkpoint was trained with."""
    folder = Path(checkpoint)
    if (folder / "vocab.txt").is_file():
        # Hugging Face semantics: strip_accents unset means "strip them when lowercasing".
        config_file = folder / "tokenizer_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
        lowercase = bool(config.get("do_lower_case", True))
        strip_accents = config.get("strip_accents")
        words = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        strip_accents = lowercase if strip_accents is None else bool(strip_accents)
        return {word: i for i, word in enumerate(words)}, lowercase, strip_accents
    import keras_hub  # keras-hub preset folders and names keep the vocabulary in their own layout

    try:
        hub_tokenizer = keras_hub.models.BertTokenizer.from_preset(str(checkpoint))
    except Exception as err:  # noqa: BLE001 - offline downloads and foreign folders become one line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"cannot read a BERT vocabulary from {checkpoint}: {first[:200]}") from None
    vocab = {word: i for i, word in enumerate(hub_tokenizer.get_vocabulary())}
    return vocab, bool(hub_tokenizer.lowercase), bool(hub_tokenizer.strip_accents)
