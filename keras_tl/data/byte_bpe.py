"""Byte-level BPE (RoBERTa) in the ``tokenizers`` format: the pipeline of Hugging Face's RobertaTokenizerFast, built
from the checkpoint's vocab.json and merges.txt (or a keras-hub preset's vocabulary and merges)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Union

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

from keras_tl.errors import DataError
from keras_tl.text_checkpoint import TextFamily

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
REQUIRED = ("<s>", "<pad>", "</s>")


def byte_bpe_tokenizer(checkpoint: Union[Path, str], family: TextFamily) -> tuple[Tokenizer, str]:
    """(tokenizer without truncation and padding, its padding token)."""
    vocab, merges, add_prefix_space = _bpe_files(checkpoint, family)
    missing = [token for token in REQUIRED if token not in vocab]
    if missing:
        raise DataError(f"the vocabulary of {checkpoint} lacks the RoBERTa special tokens {', '.join(missing)}")
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, dropout=None, continuing_subword_prefix="",
                                     end_of_word_suffix="", fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", vocab["</s>"]), ("<s>", vocab["<s>"]),
                                                            add_prefix_space=add_prefix_space, trim_offsets=True)
    # A literal "<s>" in a text is the special token, as in keras-hub's and Hugging Face's tokenizers.
    tokenizer.add_special_tokens([token for token in SPECIAL_TOKENS if token in vocab])
    return tokenizer, "<pad>"


def _bpe_files(checkpoint: Union[Path, str], family: TextFamily
               ) -> tuple[dict[str, int], list[tuple[str, str]], bool]:
    folder = Path(checkpoint)
    if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        try:
            vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            lines = (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DataError(f"cannot read the BPE vocabulary of {folder}: {str(err).splitlines()[0][:200]}") from None
        config_file = folder / "tokenizer_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
        return vocab, _pairs(lines, folder), bool(config.get("add_prefix_space", False))
    from keras_tl.data.hub_tokenizer import hub_tokenizer

    hub = hub_tokenizer(checkpoint, family)
    return dict(hub.vocabulary), _pairs(hub.merges, checkpoint), bool(hub.add_prefix_space)


def _pairs(lines, source) -> list[tuple[str, str]]:
    pairs = []
    for line in lines:
        if isinstance(line, (tuple, list)):
            pairs.append(tuple(line))
            continue
        if not line.strip() or line.startswith("#version"):
            continue
        parts = line.split(" ")
        if len(parts) != 2:
            raise DataError(f"merges of {source}: expected two tokens per line, got {line!r}")
        pairs.append((parts[0], parts[1]))
    return pairs
