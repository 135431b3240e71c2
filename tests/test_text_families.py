"""Text encoder families (text.encoder): a tiny random Hugging Face checkpoint of each family is detected, loads
through keras-hub, gives keras-hub's own backbone outputs and tokenizer ids, and phase 2 unfreezes its top layers.
Only tiny random checkpoints are checked here (tests/support/hf_text_checkpoints.py), no real weights."""

import json

import keras
import numpy as np
import pytest
from tokenizers import Tokenizer

from keras_tl.config import load_config
from keras_tl.data import PADDING_MASK_INPUT, TOKEN_IDS_INPUT, TextTokenizer
from keras_tl.errors import ConfigError, KerasTLError, ModelError
from keras_tl.models import build_model, text_encoder_blocks, text_encoder_family, text_encoder_layers
from keras_tl.text_checkpoint import text_family
from keras_tl.train.freezing import freeze_base, unfreeze_text_top
from tests.support.hf_text_checkpoints import FAMILIES, make_hf_checkpoint

LENGTH = 12
TEXTS = ["a photo of the circle", "what color is the shape ? red", "is there a blue triangle?",
         "  a   photo\tof the square  ", "a " * 20, ""]
CASED = ["Is There A Red Circle?", "WHAT COLOR IS THE SHAPE?"]
HUB = {"bert": ("BertTokenizer", "BertTextClassifierPreprocessor"),
       "distilbert": ("DistilBertTokenizer", "DistilBertTextClassifierPreprocessor"),
       "roberta": ("RobertaTokenizer", "RobertaTextClassifierPreprocessor"),
       "xlm_roberta": ("XLMRobertaTokenizer", "XLMRobertaTextClassifierPreprocessor"),
       "albert": ("AlbertTokenizer", "AlbertTextClassifierPreprocessor")}
PAD_IDS = {"bert": 0, "distilbert": 0, "roberta": 1, "xlm_roberta": 1, "albert": 0}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf-text")
    return {family: make_hf_checkpoint(family, root / family) for family in FAMILIES}


def text_config(weights, **text):
    return load_config(model={"modality": "text"}, text={"weights": str(weights), "max_length": LENGTH, **text})


def keras_hub_ids(family, folder, texts):
    import keras_hub

    tokenizer_class, packer_class = HUB[family]
    tokenizer = getattr(keras_hub.models, tokenizer_class).from_preset(str(folder))
    out = getattr(keras_hub.models, packer_class)(tokenizer, sequence_length=LENGTH)(texts)
    return np.asarray(out["token_ids"]), np.asarray(out["padding_mask"]).astype("int32")


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_detected_and_a_mismatch_is_one_line(checkpoints, family):
    assert text_family(checkpoints[family]).name == family
    assert text_family(checkpoints[family], family).name == family
    other = "roberta" if family != "roberta" else "bert"
    with pytest.raises(ModelError, match=rf"^text.encoder={other} but .* holds a checkpoint of the {family} family: "
                                         rf"set text.encoder to {family} or auto$"):
        text_family(checkpoints[family], other)


def test_unknown_families_are_refused_naming_the_supported_ones(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}), encoding="utf-8")
    with pytest.raises(ModelError, match="holds a 'gpt2' model; keras_tl's text tower reads bert, distilbert, "
                                         "roberta, xlm_roberta, albert$"):
        build_model(text_config(tmp_path), num_classes=2)
    with pytest.raises(ConfigError, match="config key 'text.encoder'"):
        load_config(overrides=["text.encoder=gpt2"])
    (tmp_path / "config.json").write_text(json.dumps({"registered_name": "keras_hub>GPT2Backbone"}))
    with pytest.raises(KerasTLError, match="not one of keras_tl's text encoders"):
        TextTokenizer.from_checkpoint(tmp_path, LENGTH)


@pytest.mark.parametrize("family", FAMILIES)
def test_tokenizer_gives_keras_hub_ids_and_survives_tokenizer_json(checkpoints, family, tmp_path):
    folder = checkpoints[family]
    ours = TextTokenizer.from_checkpoint(folder, LENGTH)
    encoded = ours.encode(TEXTS)
    ids, mask = keras_hub_ids(family, folder, TEXTS)
    np.testing.assert_array_equal(encoded[TOKEN_IDS_INPUT], ids)
    np.testing.assert_array_equal(encoded[PADDING_MASK_INPUT], mask)
    assert encoded[TOKEN_IDS_INPUT][-1, -1] == PAD_IDS[family] and encoded[PADDING_MASK_INPUT][-1].sum() == 2
    unknown = {"bert": "[UNK]", "distilbert": "[UNK]", "roberta": None, "xlm_roberta": "<unk>", "albert": "<unk>"}
    if unknown[family]:  # the test captions are all in the vocabulary
        assert ours.tokenizer.token_to_id(unknown[family]) not in set(encoded[TOKEN_IDS_INPUT][:3].ravel())

    ours.save(tmp_path / "tokenizer.json")
    edge = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))  # what the edge runner does: no TF, no keras_tl
    np.testing.assert_array_equal([e.ids for e in edge.encode_batch(TEXTS)], encoded[TOKEN_IDS_INPUT])
    np.testing.assert_array_equal([e.attention_mask for e in edge.encode_batch(TEXTS)], encoded[PADDING_MASK_INPUT])


@pytest.mark.parametrize("family", FAMILIES)
def test_cased_texts_follow_the_checkpoints_casing(checkpoints, family):
    """Uncased checkpoints (the tiny BERT, DistilBERT and ALBERT say do_lower_case) see lowercased text; the
    RoBERTa and XLM-RoBERTa tokenizers keep case, as keras-hub's do."""
    folder = checkpoints[family]
    encoded = TextTokenizer.from_checkpoint(folder, LENGTH).encode(CASED)[TOKEN_IDS_INPUT]
    uncased = family in ("bert", "distilbert", "albert")
    expected, _ = keras_hub_ids(family, folder, [t.lower() for t in CASED] if uncased else CASED)
    np.testing.assert_array_equal(encoded, expected)


@pytest.mark.parametrize("family", FAMILIES)
def test_tower_reproduces_keras_hubs_backbone(checkpoints, family):
    import keras_hub

    folder = checkpoints[family]
    model = build_model(text_config(folder), num_classes=2)
    assert text_encoder_family(model) == family and model.name == f"keras_tl_{family}"
    assert {t.name for t in model.inputs} == {TOKEN_IDS_INPUT, PADDING_MASK_INPUT}
    assert all(layer.name.startswith(f"tl_{family}_") for layer in text_encoder_layers(model))
    tokens = TextTokenizer.from_checkpoint(folder, LENGTH).encode(TEXTS)
    ours = keras.Model(model.inputs, text_encoder_layers(model)[-1].output) if family != "albert" else None
    reference = getattr(keras_hub.models, text_family(folder).backbone).from_preset(str(folder))
    inputs = dict(tokens)
    if "segment_ids" in {t.name for t in reference.inputs}:
        inputs["segment_ids"] = np.zeros_like(tokens[TOKEN_IDS_INPUT])
    if family == "roberta":  # keras-hub drops the token-type row that Hugging Face's RoBERTa adds to every token
        from safetensors.numpy import load_file

        row = load_file(str(folder / "model.safetensors"))["roberta.embeddings.token_type_embeddings.weight"][0]
        table = reference.embeddings.position_embedding.position_embeddings
        table.assign(np.asarray(table) + row)
    expected = reference(inputs, training=False)
    expected = np.asarray(expected["sequence_output"] if isinstance(expected, dict) else expected)
    if ours is None:  # ALBERT's last block is applied twice: the pooled mean over the mask is what we compare
        pooled = keras.Model(model.inputs, model.get_layer("tl_text_pool").output)
        mask = tokens[PADDING_MASK_INPUT][..., None]
        np.testing.assert_allclose(np.asarray(pooled(tokens)), (expected * mask).sum(1) / mask.sum(1), atol=2e-5)
    else:
        np.testing.assert_allclose(np.asarray(ours(tokens)), expected, atol=2e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_phase_two_unfreezes_the_top_layers_only(checkpoints, family):
    model = build_model(text_config(checkpoints[family]), num_classes=2)
    freeze_base(model)
    assert not any(layer.trainable for layer in text_encoder_layers(model) if layer.weights)
    unfrozen = unfreeze_text_top(model, 1)
    blocks = text_encoder_blocks(model)
    assert len(blocks) == 2  # two layers; ALBERT's are one shared block applied twice
    assert unfrozen == [blocks[-1]] and blocks[-1].trainable
    frozen = [layer for layer in text_encoder_layers(model) if layer.weights and layer is not blocks[-1]]
    assert frozen and not any(layer.trainable for layer in frozen)
    if family == "albert":
        assert blocks[0] is blocks[1]
    everything = unfreeze_text_top(model, 3)  # more than the encoder has: the embeddings too
    assert {layer.name for layer in everything} == {layer.name for layer in text_encoder_layers(model) if layer.weights}


def test_a_fused_model_is_named_after_its_family(checkpoints, config_factory):
    fused = build_model(config_factory(model={"modality": "image_text"},
                                       text={"weights": str(checkpoints["xlm_roberta"]), "max_length": LENGTH,
                                             "projection_units": 8}), 3)
    assert fused.name == "keras_tl_mobilenetv2_xlm_roberta"
    assert text_encoder_family(fused) == "xlm_roberta"


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "bert"])  # BERT's preset: tests/text_helpers.py
def test_keras_hub_preset_folders_of_each_family(checkpoints, family, tmp_path):
    """The same checkpoint saved by keras-hub (its own preset layout, no config.json model_type): detected from
    the backbone class, tokenized as keras-hub tokenizes it, and encoded as keras-hub's backbone encodes it."""
    import keras_hub

    spec = text_family(checkpoints[family])
    getattr(keras_hub.models, spec.backbone).from_preset(str(checkpoints[family])).save_to_preset(str(tmp_path))
    getattr(keras_hub.models, spec.tokenizer).from_preset(str(checkpoints[family])).save_to_preset(str(tmp_path))
    assert text_family(tmp_path).name == family and not (tmp_path / "vocab.json").exists()
    texts = [t.lower() for t in TEXTS]
    ids, mask = keras_hub_ids(family, tmp_path, texts)
    encoded = TextTokenizer.from_checkpoint(tmp_path, LENGTH, family).encode(texts)
    np.testing.assert_array_equal(encoded[TOKEN_IDS_INPUT], ids)
    np.testing.assert_array_equal(encoded[PADDING_MASK_INPUT], mask)

    model = build_model(text_config(tmp_path, pooling="cls"), num_classes=2)
    pooled = keras.Model(model.inputs, model.get_layer("tl_text_pool").output)
    reference = getattr(keras_hub.models, spec.backbone).from_preset(str(tmp_path))
    inputs = dict(encoded)
    if "segment_ids" in {t.name for t in reference.inputs}:
        inputs["segment_ids"] = np.zeros_like(ids)
    expected = reference(inputs, training=False)
    expected = np.asarray(expected["sequence_output"] if isinstance(expected, dict) else expected)[:, 0]
    np.testing.assert_allclose(np.asarray(pooled(encoded)), expected, atol=2e-5)


def test_cli_refuses_a_family_mismatch_in_one_line(checkpoints, text_config_factory, tmp_path, capsys):
    import yaml

    from keras_tl.cli.main import main
    from keras_tl.config import config_to_dict

    config = text_config_factory(text={"weights": str(checkpoints["albert"]), "encoder": "distilbert"})
    path = tmp_path / "mismatch.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(config)), encoding="utf-8")
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: text.encoder=distilbert but ") and err.endswith(
        "holds a checkpoint of the albert family: set text.encoder to albert or auto") and "\n" not in err
