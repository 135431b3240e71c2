import pytest

from keras_tl.config import load_config, save_config
from keras_tl.errors import ConfigError, ModelError
from keras_tl.models import get_backbone


def write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_yaml_and_overrides_resolve_to_typed_values(tmp_path):
    path = write(tmp_path, "model:\n  backbone: resnet50\ntrain:\n  phase1:\n    epochs: 2\n")
    config = load_config(path, ["train.phase1.learning_rate=0.01", "train.phase2.fine_tune_from=conv5_block2",
                                "model.hidden_units=[64, 32]", "train.phase2.fine_tune_from=12"])
    assert config.name == "exp"
    assert config.model.backbone == "resnet50"
    assert config.train.phase1.epochs == 2
    assert config.train.phase1.learning_rate == 0.01
    assert config.model.hidden_units == [64, 32]
    assert config.train.phase2.fine_tune_from == 12


def test_typo_key_fails_with_a_suggestion(tmp_path):
    path = write(tmp_path, "train:\n  phase1:\n    epoch: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "train.phase1.epoch" in message and "did you mean 'train.phase1.epochs'" in message
    assert "\n" not in message


def test_typo_section_and_override_keys_are_suggested():
    with pytest.raises(ConfigError, match="did you mean 'model'"):
        load_config(overrides=["modle.backbone=vgg16"])
    with pytest.raises(ConfigError, match="did you mean 'data.batch_size'"):
        load_config(overrides=["data.batchsize=4"])


def test_wrong_type_names_the_key_and_value():
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["train.phase1.epochs=three"])
    assert "train.phase1.epochs" in str(err.value) and "'three'" in str(err.value)
    with pytest.raises(ConfigError, match="data.augment.flip"):
        load_config(overrides=["data.augment.flip=sideways"])
    with pytest.raises(ConfigError, match="data.val_fraction"):
        load_config(overrides=["data.val_fraction=1.5"])


def test_yaml_object_tags_are_refused(tmp_path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_bad_override_syntax_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(overrides=["train.phase1.epochs"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_resolved_config_round_trips_through_yaml(tmp_path):
    config = load_config(overrides=["model.backbone=efficientnetb0", "data.augment.zoom=0.2"])
    save_config(config, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again.model_dump(exclude={"name"}) == config.model_dump(exclude={"name"})


def test_unknown_backbone_suggests_the_nearest():
    with pytest.raises(ModelError, match="did you mean 'efficientnetb0'"):
        get_backbone("efficentnetb0")
    assert get_backbone("MobileNet_V2").name == "mobilenetv2"
