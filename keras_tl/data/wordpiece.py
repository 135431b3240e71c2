"""WordPiece (BERT, DistilBERT) in the ``tokenizers`` format, built from the checkpoint's vocabulary and casing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Union

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from keras_tl.errors import DataError
from keras_tl.text_checkpoint import TextFamily

SPECIAL_TOKENS = ("[UNK]", "[SEP]", "[CLS]", "[PAD]", "[MASK]")


def wordpiece_tokenizer(checkpoint: Union[Path, str], family: TextFamily) -> tuple[Tokenizer, str]:
    """(tokenizer without truncation and padding, its padding token)."""
    vocab, lowercase, strip_accents = wordpiece_settings(checkpoint, family)
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
    return tokenizer, "[PAD]"


def wordpiece_settings(checkpoint: Union[Path, str], family: TextFamily) -> tuple[dict[str, int], bool, bool]:
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
    from keras_tl.data.hub_tokenizer import hub_tokenizer  # keras-hub preset folders and names: their own layout

    hub = hub_tokenizer(checkpoint, family)
    vocab = {word: i for i, word in enumerate(hub.get_vocabulary())}
    return vocab, bool(hub.lowercase), bool(hub.strip_accents)
