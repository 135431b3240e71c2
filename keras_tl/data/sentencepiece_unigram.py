"""SentencePiece (XLM-RoBERTa, ALBERT) in the ``tokenizers`` format, from the checkpoint's SentencePiece model:
its pieces and scores as a Unigram model, its normalization rules (the model's precompiled character map, then
SentencePiece's whitespace clean-up), and each family's id layout and special tokens, as Hugging Face's
XLMRobertaTokenizerFast and AlbertTokenizerFast lay them out.

XLM-RoBERTa ids are fairseq's: <s> <pad> </s> <unk> first, every other piece one place up, <mask> last.
ALBERT lowercases and strips accents before SentencePiece when its tokenizer_config.json says so (Hugging Face's
defaults: yes); a keras-hub ALBERT preset does neither, as keras-hub's AlbertTokenizer does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Union

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from keras_tl.errors import DataError
from keras_tl.text_checkpoint import TextFamily

MODEL_FILES = {"xlm_roberta": "sentencepiece.bpe.model", "albert": "spiece.model"}
UNIGRAM = 1  # sentencepiece TrainerSpec.ModelType
ALBERT_SPECIAL = ("[CLS]", "[SEP]", "<pad>")


def sentencepiece_tokenizer(checkpoint: Union[Path, str], family: TextFamily) -> tuple[Tokenizer, str]:
    """(tokenizer without truncation and padding, its padding token)."""
    proto, settings = _proto_and_settings(checkpoint, family)
    model = _parse(proto, checkpoint)
    if model.trainer_spec.model_type != UNIGRAM:
        raise DataError(f"the SentencePiece model of {checkpoint} is not a unigram model (type "
                        f"{model.trainer_spec.model_type}); keras_tl reads unigram SentencePiece models only")
    pieces = [(piece.piece, piece.score) for piece in model.pieces]
    if family.name == "xlm_roberta":
        vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *pieces[3:], ("<mask>", 0.0)]
        unk_id, start, end, pad = 3, "<s>", "</s>", "<pad>"
        cased = []
    else:
        # Hugging Face's AlbertConverter: pieces like "3," lose 100 so that numbers are not split before commas.
        vocab = [(p, s) if len(p) < 2 or p[-1] != "," or not p[-2].isdigit() else (p, s - 100) for p, s in pieces]
        unk_id, start, end, pad = model.trainer_spec.unk_id, "[CLS]", "[SEP]", "<pad>"
        missing = [token for token in ALBERT_SPECIAL if token not in dict(vocab)]
        if missing:
            raise DataError(f"the SentencePiece model of {checkpoint} lacks ALBERT's {', '.join(missing)}")
        cased = _albert_casing(settings)
    ids = {piece: i for i, (piece, _) in enumerate(vocab)}
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    charsmap = model.normalizer_spec.precompiled_charsmap
    # SentencePiece's remove_extra_whitespaces: no leading, trailing or repeated spaces.
    whitespace = [normalizers.Replace(Regex(" {2,}"), " "), normalizers.Strip()]
    tokenizer.normalizer = normalizers.Sequence(
        [*cased, *([normalizers.Precompiled(charsmap)] if charsmap else []), *whitespace])
    scheme = "always" if model.normalizer_spec.add_dummy_prefix else "never"
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme=scheme)
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme=scheme)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{start}:0 $A:0 {end}:0", pair=f"{start}:0 $A:0 {end}:0 $B:1 {end}:1",
        special_tokens=[(start, ids[start]), (end, ids[end])])
    return tokenizer, pad


def _albert_casing(settings: dict) -> list:
    if settings.get("keras_hub"):
        return []
    steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
    if not settings.get("keep_accents", False):
        steps += [normalizers.NFKD(), normalizers.StripAccents()]
    if settings.get("do_lower_case", True):
        steps.append(normalizers.Lowercase())
    return steps


def _proto_and_settings(checkpoint: Union[Path, str], family: TextFamily) -> tuple[bytes, dict]:
    folder = Path(checkpoint)
    model_file = folder / MODEL_FILES[family.name]
    if model_file.is_file():
        config_file = folder / "tokenizer_config.json"
        try:
            settings = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
            return model_file.read_bytes(), settings
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DataError(f"cannot read the tokenizer of {folder}: {str(err).splitlines()[0][:200]}") from None
    from keras_tl.data.hub_tokenizer import hub_tokenizer

    hub = hub_tokenizer(checkpoint, family)
    return bytes(hub.proto), {"keras_hub": True}  # keras-hub's tokenizers normalize with the model only


def _parse(proto: bytes, source):
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    try:
        model.ParseFromString(proto)
    except Exception as err:  # noqa: BLE001 - protobuf's DecodeError and friends: one line for the user
        raise DataError(f"{source} has no readable SentencePiece model: {str(err)[:200]}") from None
    if not model.pieces:
        raise DataError(f"{source} has no readable SentencePiece model (no pieces)")
    return model
