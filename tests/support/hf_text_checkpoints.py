"""Tiny random text checkpoints in the Hugging Face layout, one per encoder family keras-hub converts: config.json,
model.safetensors (written with numpy, no torch) and the family's own tokenizer files, trained here on the test
captions (WordPiece vocab.txt; byte-level BPE vocab.json + merges.txt with ``tokenizers``; a unigram SentencePiece
model with ``sentencepiece``). Nothing is downloaded; no real weights are involved."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from tests.helpers import CLASSES
from tests.text_helpers import COLOR_NAMES, SPECIAL, WORDS, caption

FAMILIES = ("bert", "distilbert", "roberta", "xlm_roberta", "albert")
HIDDEN, LAYERS, HEADS, INTERMEDIATE, POSITIONS, ALBERT_EMBEDDING = 16, 2, 2, 32, 32, 8
# The activation keras-hub's own backbone of each family uses, so that it is an exact reference for our tower.
ACTIVATION = {"bert": "gelu_new", "albert": "gelu_new"}
ROBERTA_SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def corpus() -> list[str]:
    """Every test caption, in lower and title case, so the trained vocabularies cover what the tests encode."""
    lines = [caption(kind, i) for kind in CLASSES for i in range(3)] + [" ".join(WORDS)]
    lines += [f"Is there a {color} {kind}?" for kind, color in COLOR_NAMES.items()]
    return lines + [line.title() for line in lines]


def make_hf_checkpoint(family: str, folder: Path, seed: int = 0) -> Path:
    """A 2-layer, 16-wide random ``family`` checkpoint with its tokenizer files in ``folder``."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = TOKENIZER_WRITERS[family](folder)
    rng = np.random.default_rng(seed)
    shapes, config = LAYOUTS[family](vocab_size)
    tensors = {}
    for key, shape in shapes.items():
        if key.endswith(("LayerNorm.weight", "layer_norm.weight")):
            tensors[key] = (1.0 + 0.1 * rng.standard_normal(shape)).astype("float32")
        else:
            tensors[key] = (0.2 * rng.standard_normal(shape)).astype("float32")
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    act_key = "activation" if family == "distilbert" else "hidden_act"
    config = {**config, act_key: ACTIVATION.get(family, "gelu"), "architectures": [ARCHITECTURES[family]]}
    (folder / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return folder


# --- tokenizer files; each returns the vocabulary size -------------------------------------------------------


def _wordpiece(folder: Path) -> int:
    (folder / "vocab.txt").write_text("\n".join(SPECIAL + WORDS) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}), encoding="utf-8")
    return len(SPECIAL) + len(WORDS)


def _byte_bpe(folder: Path) -> int:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=340, special_tokens=ROBERTA_SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(corpus(), trainer)
    tokenizer.model.save(str(folder))  # vocab.json, merges.txt
    (folder / "tokenizer_config.json").write_text(json.dumps({"add_prefix_space": False}), encoding="utf-8")
    return tokenizer.get_vocab_size()


def _sentencepiece(folder: Path, name: str, **options) -> int:
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(corpus()), model_writer=model, vocab_size=60,
                                             model_type="unigram", hard_vocab_limit=False, num_threads=1,
                                             minloglevel=2, **options)
    (folder / name).write_bytes(model.getvalue())
    return sentencepiece.SentencePieceProcessor(model_proto=model.getvalue()).get_piece_size()


def _xlm_roberta_spm(folder: Path) -> int:
    # fairseq's layout: SentencePiece's <unk> <s> </s> first; the vocabulary adds <pad> and <mask>.
    return _sentencepiece(folder, "sentencepiece.bpe.model") + 2


def _albert_spm(folder: Path) -> int:
    size = _sentencepiece(folder, "spiece.model", pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
                          control_symbols=["[CLS]", "[SEP]", "[MASK]"])
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "keep_accents": False}),
                                                  encoding="utf-8")
    return size


TOKENIZER_WRITERS = {"bert": _wordpiece, "distilbert": _wordpiece, "roberta": _byte_bpe,
                     "xlm_roberta": _xlm_roberta_spm, "albert": _albert_spm}


# --- weights and config.json ---------------------------------------------------------------------------------


def _linear(shapes: dict, key: str, out: int, inp: int) -> None:
    shapes[f"{key}.weight"], shapes[f"{key}.bias"] = (out, inp), (out,)


def _norm(shapes: dict, key: str, width: int) -> None:
    shapes[f"{key}.weight"], shapes[f"{key}.bias"] = (width,), (width,)


def _bert_like(prefix: str, vocab_size: int, positions: int, type_vocab: int) -> dict:
    shapes = {f"{prefix}embeddings.word_embeddings.weight": (vocab_size, HIDDEN),
              f"{prefix}embeddings.position_embeddings.weight": (positions, HIDDEN),
              f"{prefix}embeddings.token_type_embeddings.weight": (type_vocab, HIDDEN)}
    _norm(shapes, f"{prefix}embeddings.LayerNorm", HIDDEN)
    for i in range(LAYERS):
        layer = f"{prefix}encoder.layer.{i}"
        for name in ("query", "key", "value"):
            _linear(shapes, f"{layer}.attention.self.{name}", HIDDEN, HIDDEN)
        _linear(shapes, f"{layer}.attention.output.dense", HIDDEN, HIDDEN)
        _norm(shapes, f"{layer}.attention.output.LayerNorm", HIDDEN)
        _linear(shapes, f"{layer}.intermediate.dense", INTERMEDIATE, HIDDEN)
        _linear(shapes, f"{layer}.output.dense", HIDDEN, INTERMEDIATE)
        _norm(shapes, f"{layer}.output.LayerNorm", HIDDEN)
    return shapes


def _encoder_config(model_type: str, vocab_size: int, positions: int, type_vocab: int) -> dict:
    return {"model_type": model_type, "vocab_size": vocab_size, "hidden_size": HIDDEN, "num_hidden_layers": LAYERS,
            "num_attention_heads": HEADS, "intermediate_size": INTERMEDIATE, "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "max_position_embeddings": positions,
            "type_vocab_size": type_vocab}


def _bert(vocab_size: int):
    shapes = _bert_like("bert.", vocab_size, POSITIONS, 2)
    _linear(shapes, "bert.pooler.dense", HIDDEN, HIDDEN)
    return shapes, {**_encoder_config("bert", vocab_size, POSITIONS, 2), "layer_norm_eps": 1e-12}


def _roberta(model_type: str):
    def layout(vocab_size: int):
        # RoBERTa's position table keeps two rows before the first token (padding_idx 1), hence + 2.
        shapes = _bert_like("roberta.", vocab_size, POSITIONS + 2, 1)
        return shapes, {**_encoder_config(model_type, vocab_size, POSITIONS + 2, 1), "pad_token_id": 1,
                        "bos_token_id": 0, "eos_token_id": 2, "layer_norm_eps": 1e-5}
    return layout


def _distilbert(vocab_size: int):
    shapes = {"distilbert.embeddings.word_embeddings.weight": (vocab_size, HIDDEN),
              "distilbert.embeddings.position_embeddings.weight": (POSITIONS, HIDDEN)}
    _norm(shapes, "distilbert.embeddings.LayerNorm", HIDDEN)
    for i in range(LAYERS):
        layer = f"distilbert.transformer.layer.{i}"
        for name in ("q_lin", "k_lin", "v_lin", "out_lin"):
            _linear(shapes, f"{layer}.attention.{name}", HIDDEN, HIDDEN)
        _norm(shapes, f"{layer}.sa_layer_norm", HIDDEN)
        _linear(shapes, f"{layer}.ffn.lin1", INTERMEDIATE, HIDDEN)
        _linear(shapes, f"{layer}.ffn.lin2", HIDDEN, INTERMEDIATE)
        _norm(shapes, f"{layer}.output_layer_norm", HIDDEN)
    return shapes, {"model_type": "distilbert", "vocab_size": vocab_size, "dim": HIDDEN, "n_layers": LAYERS,
                    "n_heads": HEADS, "hidden_dim": INTERMEDIATE, "dropout": 0.1, "attention_dropout": 0.1,
                    "max_position_embeddings": POSITIONS, "pad_token_id": 0}


def _albert(vocab_size: int):
    e = ALBERT_EMBEDDING
    shapes = {"albert.embeddings.word_embeddings.weight": (vocab_size, e),
              "albert.embeddings.position_embeddings.weight": (POSITIONS, e),
              "albert.embeddings.token_type_embeddings.weight": (2, e)}
    _norm(shapes, "albert.embeddings.LayerNorm", e)
    _linear(shapes, "albert.encoder.embedding_hidden_mapping_in", HIDDEN, e)
    layer = "albert.encoder.albert_layer_groups.0.albert_layers.0"  # one block, shared by both layers
    for name in ("query", "key", "value", "dense"):
        _linear(shapes, f"{layer}.attention.{name}", HIDDEN, HIDDEN)
    _norm(shapes, f"{layer}.attention.LayerNorm", HIDDEN)
    _linear(shapes, f"{layer}.ffn", INTERMEDIATE, HIDDEN)
    _linear(shapes, f"{layer}.ffn_output", HIDDEN, INTERMEDIATE)
    _norm(shapes, f"{layer}.full_layer_layer_norm", HIDDEN)
    shapes["albert.pooler.weight"], shapes["albert.pooler.bias"] = (HIDDEN, HIDDEN), (HIDDEN,)
    return shapes, {**_encoder_config("albert", vocab_size, POSITIONS, 2), "embedding_size": e,
                    "num_hidden_groups": 1, "inner_group_num": 1, "hidden_dropout_prob": 0.0,
                    "attention_probs_dropout_prob": 0.0}


LAYOUTS = {"bert": _bert, "distilbert": _distilbert, "roberta": _roberta("roberta"),
           "xlm_roberta": _roberta("xlm-roberta"), "albert": _albert}
ARCHITECTURES = {"bert": "BertModel", "distilbert": "DistilBertModel", "roberta": "RobertaForMaskedLM",
                 "xlm_roberta": "XLMRobertaForMaskedLM", "albert": "AlbertModel"}
