"""The BERT text tower: the real MiniLM-L6 checkpoint loads offline and reproduces an independent implementation;
one builder makes image, text and image+text models with named inputs and our own layers prefixed tl_."""

import keras
import numpy as np
import pytest

from keras_tl.config import load_config
from keras_tl.data import TextTokenizer
from keras_tl.errors import ModelError
from keras_tl.models import (TEXT_FEATURES_LAYER, base_layers, build_classifier, build_model, gelu_erf,
                             load_trained_model, model_input_names, text_encoder_blocks, text_encoder_layers)

SENTENCES = ["A red circle is next to a blue triangle.", "What color is the shape?"]
# Mean-pooled last hidden states (over the attention mask, as sentence-transformers' Pooling does; before its
# Normalize step) of the same checkpoint folder, computed with PyTorch 2.13.0+cpu and transformers 5.23.0:
#   AutoTokenizer/AutoModel.from_pretrained(folder); tokenizer(SENTENCES, padding="max_length", max_length=16,
#   truncation=True); mean = (last_hidden_state * mask).sum(1) / mask.sum(1); rounded to 6 decimals.
REFERENCE_FIRST_12 = [
    [-0.070647, 0.176907, -0.839164, 0.269535, -0.25659, 0.107242, 0.086724, 0.122196, 0.207753, -0.157761,
     -0.012713, -0.097964],
    [0.182128, 0.388463, -0.327952, 0.226793, -0.224591, -0.041425, 0.691069, -0.083818, 0.490843, -0.134069,
     -0.199785, -0.438487],
]
REFERENCE_NORM = [5.012197, 5.872629]
REFERENCE_SUM = [-1.227119, -0.972633]


def text_config(weights, **text):
    return load_config(model={"modality": "text"}, text={"weights": str(weights), "max_length": 16, **text})


def test_minilm_mean_pooled_embedding_matches_the_reference(minilm_folder):
    model = build_model(text_config(minilm_folder, pooling="mean"), num_classes=2)
    pooled = keras.Model(model.inputs, model.get_layer(TEXT_FEATURES_LAYER).output)
    tokens = TextTokenizer.from_checkpoint(minilm_folder, 16).encode(SENTENCES)
    embedding = np.asarray(pooled(tokens, training=False), dtype="float64")
    assert embedding.shape == (2, 384)
    np.testing.assert_allclose(embedding[:, :12], REFERENCE_FIRST_12, atol=1e-4, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), REFERENCE_NORM, atol=1e-4, rtol=0)
    np.testing.assert_allclose(embedding.sum(axis=1), REFERENCE_SUM, atol=1e-4, rtol=0)


def test_exact_gelu_written_with_erf():
    x = np.linspace(-6, 6, 1001).astype("float32")
    exact = keras.activations.gelu(x, approximate=False)
    np.testing.assert_allclose(np.asarray(gelu_erf(x)), np.asarray(exact), atol=1e-6)


def test_one_builder_for_three_modalities(config_factory, tiny_bert):
    image_only = build_model(config_factory(), num_classes=3)
    reference = build_classifier(config_factory().model, num_classes=3)
    assert [layer.name for layer in image_only.layers] == [layer.name for layer in reference.layers]

    text_only = build_model(config_factory(model={"modality": "text"}, text={"weights": str(tiny_bert)}), 3)
    assert sorted(model_input_names(text_only)) == ["padding_mask", "token_ids"]
    assert not base_layers(text_only) and len(text_encoder_blocks(text_only)) == 2

    fused = build_model(config_factory(model={"modality": "image_text"},
                                       text={"weights": str(tiny_bert), "fusion": "gated", "projection_units": 8}), 3)
    assert sorted(model_input_names(fused)) == ["image", "padding_mask", "token_ids"]
    # The image base is exactly the image-only model's; every other layer is ours (tl_).
    assert [layer.name for layer in base_layers(fused)] == [layer.name for layer in base_layers(reference)]
    assert all(layer.name.startswith("tl_") for layer in text_encoder_layers(fused))
    assert fused.get_layer("tl_fusion").output.shape[-1] == 8  # the gated sum keeps the projection width
    assert fused.output.shape[-1] == 3


def test_cls_pooling_takes_the_first_token(tiny_bert):
    model = build_model(text_config(tiny_bert, pooling="cls", max_length=8), num_classes=2)
    pooled = keras.Model(model.inputs, model.get_layer(TEXT_FEATURES_LAYER).output)
    sequence = keras.Model(model.inputs, text_encoder_blocks(model)[-1].output)
    tokens = TextTokenizer.from_checkpoint(tiny_bert, 8).encode(["what color is the shape ?", "a photo"])
    np.testing.assert_allclose(np.asarray(pooled(tokens)), np.asarray(sequence(tokens))[:, 0, :], atol=1e-6)


def test_fused_model_round_trips_through_model_keras(text_config_factory, tmp_path):
    model = build_model(text_config_factory(text={"fusion": "gated"}), num_classes=3)
    tokens = TextTokenizer.from_checkpoint(text_config_factory().text.weights, 12).encode(["a photo of the circle"] * 2)
    inputs = {"image": np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32"), **tokens}
    model.save(tmp_path / "fused.keras")
    loaded = load_trained_model(tmp_path / "fused.keras")
    np.testing.assert_allclose(np.asarray(loaded(inputs)), np.asarray(model(inputs)), atol=1e-6)
    assert loaded.get_layer("tl_bert_layer_0").get_config()["activation"]["config"] == "keras_tl>gelu_erf"


def test_text_settings_that_cannot_work_are_one_line_errors(tiny_bert, tmp_path):
    with pytest.raises(ModelError, match="text.max_length=64 is longer than the encoder's 32 positions"):
        build_model(text_config(tiny_bert, max_length=64), num_classes=2)
    with pytest.raises(ModelError, match="text.weights folder not found"):
        build_model(text_config(tmp_path / "no-such-checkpoint"), num_classes=2)
