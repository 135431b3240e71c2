"""Tokenization: the ``tokenizers`` WordPiece pipeline gives keras-hub's BERT ids, the checkpoint's own ids, and the
same ids again from the saved tokenizer.json with nothing but ``tokenizers`` (what an edge runner has)."""

import numpy as np
import pytest
from tokenizers import Tokenizer

from keras_tl.data import PADDING_MASK_INPUT, TOKEN_IDS_INPUT, TextTokenizer
from keras_tl.errors import DataError

LENGTH = 16
TEXTS = [
    "What color is the shape?",
    "Is there a RED circle in the image?",
    "Hello,world!! It's 3.14 -- don't.",
    "unaffable xyzzyplugh antidisestablishmentarianism",
    "  tabs\tand\nnewlines  ",
    "",
    "中文字符 and emoji 🙂",
    "a " * 40,  # longer than LENGTH: truncated, [SEP] kept last
]
ACCENTED = ["naïve café", "Ünïcode résumé déjà vu"]


def keras_hub_ids(tokenizer, texts):
    import keras_hub

    packer = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=LENGTH)
    out = packer(texts)
    return np.asarray(out["token_ids"]), np.asarray(out["padding_mask"]).astype("int32")


def test_same_ids_as_keras_hub_bert_preprocessor(minilm_folder):
    import keras_hub

    ours = TextTokenizer.from_checkpoint(minilm_folder, LENGTH).encode(TEXTS)
    ids, mask = keras_hub_ids(keras_hub.models.BertTokenizer.from_preset(str(minilm_folder)), TEXTS)
    np.testing.assert_array_equal(ours[TOKEN_IDS_INPUT], ids)
    np.testing.assert_array_equal(ours[PADDING_MASK_INPUT], mask)
    assert ours[TOKEN_IDS_INPUT].shape == (len(TEXTS), LENGTH) and ours[TOKEN_IDS_INPUT].dtype == np.int32
    assert ours[TOKEN_IDS_INPUT][-1, -1] == 102 and ours[PADDING_MASK_INPUT][-1].all()  # truncated, ends in [SEP]


def test_accents_are_stripped_as_the_checkpoint_was_trained(minilm_folder):
    # The checkpoint lowercases and strips accents (Hugging Face: strip_accents unset follows do_lower_case).
    # keras-hub's from_preset on this folder leaves accents in, which turns these words into [UNK]; with the
    # checkpoint's settings keras-hub's WordPiece agrees with us, and so does the checkpoint's own tokenizer.json.
    import keras_hub

    ours = TextTokenizer.from_checkpoint(minilm_folder, LENGTH).encode(ACCENTED)
    vocab = (minilm_folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    stripping = keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=True, strip_accents=True)
    np.testing.assert_array_equal(ours[TOKEN_IDS_INPUT], keras_hub_ids(stripping, ACCENTED)[0])
    reference = Tokenizer.from_file(str(minilm_folder / "tokenizer.json"))
    reference.enable_truncation(LENGTH)
    reference.enable_padding(length=LENGTH)
    np.testing.assert_array_equal(ours[TOKEN_IDS_INPUT], [e.ids for e in reference.encode_batch(ACCENTED)])
    assert 100 not in ours[TOKEN_IDS_INPUT]  # no [UNK]


def test_saved_tokenizer_needs_only_the_tokenizers_package(minilm_folder, tmp_path):
    tokenizer = TextTokenizer.from_checkpoint(minilm_folder, LENGTH)
    tokenizer.save(tmp_path / "tokenizer.json")
    expected = tokenizer.encode(TEXTS)
    edge = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))  # what an edge runner does: no TF, no keras_tl
    encodings = edge.encode_batch(TEXTS)
    np.testing.assert_array_equal([e.ids for e in encodings], expected[TOKEN_IDS_INPUT])
    np.testing.assert_array_equal([e.attention_mask for e in encodings], expected[PADDING_MASK_INPUT])
    assert TextTokenizer.load(tmp_path / "tokenizer.json").max_length == LENGTH


def test_keras_hub_preset_folder_vocabulary(tiny_bert):
    import keras_hub

    texts = ["What color is the shape?", "a photo of the circle", "an unknown word"]
    ours = TextTokenizer.from_checkpoint(tiny_bert, LENGTH).encode(texts)
    ids, mask = keras_hub_ids(keras_hub.models.BertTokenizer.from_preset(str(tiny_bert)), texts)
    np.testing.assert_array_equal(ours[TOKEN_IDS_INPUT], ids)
    np.testing.assert_array_equal(ours[PADDING_MASK_INPUT], mask)


def test_vocabulary_without_bert_special_tokens_is_refused(tmp_path):
    (tmp_path / "vocab.txt").write_text("a\nb\nc\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"lacks the BERT special tokens \[UNK\], \[SEP\]"):
        TextTokenizer.from_checkpoint(tmp_path, LENGTH)
