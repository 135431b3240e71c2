"""CLIP-style zero-shot classification (train.phase1.head: zeroshot, model.backbone: metaclip2) on a tiny random
MetaCLIP 2 checkpoint in the Hugging Face layout written here: the head equals the prompt embeddings keras-hub's
own MetaCLIP 2 model computes, the model reads images only, and bad input is one line."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_tl.config import load_config
from keras_tl.errors import ConfigError, ModelError
from keras_tl.models import FEATURES_LAYER, PREDICTIONS_LAYER, build_classifier, get_backbone
from keras_tl.models.zero_shot import class_prompts, zero_shot_head
from tests.support.hf_clip_checkpoints import POSITIONS, write_metaclip2_checkpoint
from tests.support.hf_image_checkpoints import write_checkpoint

LABELS = ["circle", "golden_retriever", "triangle"]
TEMPLATES = ["a photo of a {label}.", "a drawing of the {label}"]
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_metaclip2_checkpoint(tmp_path_factory.mktemp("metaclip2") / "ckpt")


@pytest.fixture(scope="module")
def keras_hub_model(checkpoint):
    """keras-hub's own MetaCLIP 2 backbone and preprocessor for the folder: the reference."""
    import keras_hub

    backbone = keras_hub.models.MetaCLIP2Backbone.from_preset(str(checkpoint))
    preprocessor = keras_hub.models.MetaCLIP2CausalLMPreprocessor.from_preset(str(checkpoint),
                                                                              sequence_length=POSITIONS)
    return backbone, preprocessor


def zero_shot_config(checkpoint, **train):
    return load_config(model={"backbone": "metaclip2", "weights": str(checkpoint)},
                       train={"phase1": {"head": "zeroshot", **train}})


def one_line(error) -> str:
    text = str(error.value)
    assert "\n" not in text and "Traceback" not in text, text
    return text


def test_head_holds_keras_hubs_template_averaged_prompt_embeddings(checkpoint, keras_hub_model):
    backbone, preprocessor = keras_hub_model
    config = zero_shot_config(checkpoint, templates=TEMPLATES)
    assert config.model.pooling == "cls" and config.train.phase1.epochs == 1
    head = zero_shot_head(get_backbone("metaclip2"), config.model, LABELS, TEMPLATES)

    text_embedding = keras.Model(backbone.input["token_ids"], backbone.get_layer("text_projection").output)
    assert class_prompts(LABELS, TEMPLATES)[1] == ["a photo of a golden retriever.",
                                                   "a drawing of the golden retriever"]
    expected = []
    for prompts in class_prompts(LABELS, TEMPLATES):
        ids = preprocessor({"prompts": prompts, "images": None})["token_ids"]
        embedded = np.asarray(text_embedding(ids), dtype="float64")
        embedded /= np.linalg.norm(embedded, axis=1, keepdims=True)
        mean = embedded.mean(axis=0)
        expected.append(mean / np.linalg.norm(mean))
    np.testing.assert_allclose(head.class_embeddings, np.stack(expected), rtol=1e-5, atol=1e-5)
    assert head.logit_scale == pytest.approx(1 / 0.07, rel=1e-5)  # exp of the checkpoint's log scale
    np.testing.assert_allclose(head.kernel, np.stack(expected).T / 0.07, rtol=1e-4, atol=1e-4)
    assert not head.bias.any()


def test_model_scores_are_clips_probabilities_with_one_template(checkpoint, keras_hub_model):
    """With one template, the keras_tl model on raw pixels gives the softmax of keras-hub's own image-text logits."""
    backbone, preprocessor = keras_hub_model
    config = zero_shot_config(checkpoint)
    model = build_classifier(config.model, len(LABELS))
    head = zero_shot_head(get_backbone("metaclip2"), config.model, LABELS, config.train.phase1.templates)
    model.get_layer(PREDICTIONS_LAYER).set_weights([head.kernel, head.bias])
    assert len(model.inputs) == 1 and model.input_shape == (None, 32, 32, 3)  # no text input
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    ours = np.asarray(model(images))
    prompts = [p[0] for p in class_prompts(LABELS, config.train.phase1.templates)]
    ids = preprocessor({"prompts": prompts, "images": None})["token_ids"]
    pixels = ((images / 255.0 - CLIP_MEAN) / CLIP_STD).astype("float32")
    logits = np.asarray(backbone({"images": pixels, "token_ids": np.asarray(ids)})["vision_logits"])
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(keras.ops.softmax(logits)), rtol=1e-4, atol=1e-5)
    features = np.asarray(keras.Model(model.input, model.get_layer(FEATURES_LAYER).output)(images))
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-5)


def test_bad_zero_shot_input_is_one_line(checkpoint, tmp_path):
    from keras_tl.config.schema import ZERO_SHOT_BACKBONES
    from keras_tl.models.vision_transformers import CLIP_BACKBONES

    assert ZERO_SHOT_BACKBONES == CLIP_BACKBONES  # the schema cannot import the registry
    with pytest.raises(ConfigError) as error:
        zero_shot_config(checkpoint, templates=["a photo of a {name}"])
    assert "every template needs {label}" in one_line(error)
    with pytest.raises(ConfigError) as error:
        load_config(model={"backbone": "vit"}, train={"phase1": {"head": "zeroshot"}})
    assert "zeroshot cannot be used with model.backbone: vit (it has no text tower" in one_line(error)
    with pytest.raises(ConfigError) as error:
        load_config(model={"backbone": "metaclip2", "weights": str(checkpoint), "pooling": "avg"},
                    train={"phase1": {"head": "zeroshot"}})
    assert "model.pooling: avg" in one_line(error)
    with pytest.raises(ConfigError) as error:
        load_config(model={"backbone": "metaclip2", "weights": str(checkpoint), "hidden_units": [8]},
                    train={"phase1": {"head": "zeroshot"}})
    assert "hidden_units" in one_line(error)

    spec = get_backbone("metaclip2")
    for weights, expected in {"none": "takes its architecture", str(tmp_path / "missing"): "folder not found"}.items():
        with pytest.raises(ModelError) as error:
            zero_shot_head(spec, zero_shot_config(weights).model, LABELS, TEMPLATES)
        assert expected in one_line(error)
    vit = write_checkpoint(tmp_path / "vit", "vit")
    with pytest.raises(ModelError) as error:
        zero_shot_head(spec, zero_shot_config(vit).model, LABELS, TEMPLATES)
    assert "is a Hugging Face 'vit' checkpoint, not metaclip2; use model.backbone: vit" in one_line(error)
    with pytest.raises(ModelError) as error:
        zero_shot_head(get_backbone("vit"), zero_shot_config(vit).model, LABELS, TEMPLATES)
    assert "needs a base with a text tower" in one_line(error)
    no_tokenizer = write_metaclip2_checkpoint(tmp_path / "no-tokenizer")
    (no_tokenizer / "sentencepiece.bpe.model").unlink()
    with pytest.raises(ModelError) as error:
        zero_shot_head(spec, zero_shot_config(no_tokenizer).model, LABELS, TEMPLATES)
    assert "cannot load the metaclip2 tokenizer" in one_line(error)


@pytest.mark.slow
def test_zero_shot_run_evaluates_exports_and_fine_tunes(tmp_path, image_folder):
    """Phase 1 writes the zero-shot head without training; phase 2 fine-tunes the top block from it; the run
    evaluates and reports, and fp32 TFLite and ONNX (image input only) pass verification against the Keras model."""
    import keras_tl
    from keras_tl.export import export_run
    from keras_tl.models import load_trained_model
    from keras_tl.train import read_history
    from tests.helpers import NO_AUGMENT
    from tests.support.hf_image_checkpoints import transformer_config

    checkpoint = write_metaclip2_checkpoint(tmp_path / "checkpoint")
    config = transformer_config(tmp_path / "runs", image_folder, checkpoint, "metaclip2", name="zeroshot",
                                data=NO_AUGMENT, train={"phase1": {"head": "zeroshot", "templates": TEMPLATES},
                                                        "phase2": {"fine_tune_from": 1, "learning_rate": 1e-3}})
    logs = []
    run = keras_tl.train_model(config, log=logs.append)
    assert any("wrote a zero-shot head" in line for line in logs), logs
    assert [int(row["phase"]) for row in read_history(run.history_file, 1)] == [1, 2]
    head = zero_shot_head(get_backbone("metaclip2"), config.model, run.labels(), TEMPLATES)
    phase1 = build_classifier(config.model, 3)
    phase1.load_weights(str(run.done_weights_file(1)))
    np.testing.assert_allclose(phase1.get_layer(PREDICTIONS_LAYER).get_weights()[0], head.kernel, rtol=1e-6)
    trained = load_trained_model(run.model_file)
    assert len(trained.inputs) == 1
    changed = {layer.name for layer in trained.layers if layer.get_weights() and any(
        not np.array_equal(a, b) for a, b in zip(layer.get_weights(), phase1.get_layer(layer.name).get_weights()))}
    assert changed == {"metaclip2_block_1", "metaclip2_post_layernorm", "metaclip2_projection", PREDICTIONS_LAYER}
    assert run.metrics_file.is_file() and (run.path / "report.md").is_file()
    rerun = []
    keras_tl.train_model(config, log=rerun.append)  # the same command again: both phases are done
    assert any("phase 1: already finished" in line for line in rerun), rerun
    # A fresh process registers the MetaCLIP 2 layers only when it loads such a model.
    image = next(p for p in sorted((image_folder / run.labels()[0]).iterdir()))
    done = subprocess.run([sys.executable, "-m", "keras_tl", "predict", str(run.path), str(image), "--top-k", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and any(label in done.stdout for label in run.labels()), done.stderr[-2000:]

    report = export_run(run.path, ["export.quantize=[fp32]", "export.verify_samples=30",
                                   "export.benchmark.runs=2", "export.benchmark.warmup=1"], log=lambda *_: None)
    by_name = {entry["path"].split("/")[-1]: entry for entry in report["artifacts"]}
    assert sorted(by_name) == ["model_fp32.onnx", "model_fp32.tflite"]
    for entry in by_name.values():
        assert entry["passed"] and entry["max_abs_diff"] < 1e-4, entry
