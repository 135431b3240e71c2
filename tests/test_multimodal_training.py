"""Phases of image+text training touch exactly the layers they should: phase 1 only our projections and head,
phase 2 also the top of each encoder (BatchNorm frozen), with the text encoder at its own learning rate."""

import shutil

import keras
import numpy as np
import pytest

from keras_tl.data import prepare_data, prepare_text
from keras_tl.errors import DataError
from keras_tl.models import build_model, text_encoder_layers
from keras_tl.run import RunFolder
from keras_tl.train import fit_two_phase
from tests.helpers import changed_layers, weights_by_layer

HEAD = {"tl_image_projection", "tl_text_projection", "tl_predictions"}


def setup(factory, tmp_path, **overrides):
    config = factory(**overrides)
    run = RunFolder(tmp_path / "run").ensure()
    data = prepare_data(config.data, run, seed=config.seed, multi_label=False)
    prepare_text(data, run, config.text)
    keras.utils.set_random_seed(config.seed)
    return config, run, data, build_model(config, data.num_classes)


def test_phase1_trains_only_projections_and_head(text_config_factory, tmp_path):
    config, run, data, model = setup(text_config_factory, tmp_path,
                                     train={"phase1": {"epochs": 1}, "phase2": {"epochs": 0}})
    before = weights_by_layer(model)
    fit_two_phase(model, data, config, run, log=lambda *_: None)
    assert changed_layers(before, weights_by_layer(model)) == HEAD  # both encoders, every BatchNorm untouched
    assert model.get_layer("tl_fusion").output.shape[-1] == 16  # concat of two 8-unit projections


def test_phase2_unfreezes_the_top_of_each_encoder_at_its_own_rate(text_config_factory, tmp_path):
    config, run, data, model = setup(text_config_factory, tmp_path, text={"fine_tune_layers": 1, "learning_rate": 1e-2},
                                     train={"phase1": {"epochs": 0},
                                            "phase2": {"epochs": 1, "learning_rate": 1e-4, "fine_tune_from": 5,
                                                       "warmup_epochs": 0}})
    before = weights_by_layer(model)
    fit_two_phase(model, data, config, run, log=lambda *_: None)
    after = weights_by_layer(model)
    changed = changed_layers(before, after)
    assert changed == HEAD | {"Conv_1", "block_16_project", "tl_bert_layer_1"}  # not tl_bert_layer_0, embeddings, BN

    def step(name):
        return float(np.mean(np.abs(after[name][0] - before[name][0])))

    # Adam moves each weight by about its learning rate: the text encoder's is 100x the image base's.
    assert step("tl_bert_layer_1") > 20 * step("Conv_1")


def test_text_only_model_reads_no_image(text_config_factory, captioned_folder, tmp_path):
    source = shutil.copytree(captioned_folder, tmp_path / "copy")  # its images get emptied below
    config, run, data, model = setup(text_config_factory, tmp_path, model={"modality": "text"},
                                     data={"source": str(source)},
                                     text={"fine_tune_layers": 3},  # more than the 2 blocks: embeddings too
                                     train={"phase1": {"epochs": 1}, "phase2": {"epochs": 1, "warmup_epochs": 0}})
    train = data.dataset("train", image_size=32, batch_size=4, training=True, seed=0,
                         inputs=["token_ids", "padding_mask"])
    assert set(train.element_spec[0]) == {"token_ids", "padding_mask"}
    for path in data.decode_paths.values():  # an unreadable image would now break any image pipeline
        open(path, "wb").close()
    before = weights_by_layer(model)
    fit_two_phase(model, data, config, run, log=lambda *_: None)
    changed = changed_layers(before, weights_by_layer(model))
    assert {layer.name for layer in text_encoder_layers(model) if layer.weights} <= changed


def test_a_sample_without_text_stops_training(text_config_factory, captioned_folder, tmp_path):
    caption = captioned_folder / "circle" / "circle_001.txt"
    saved = caption.read_text(encoding="utf-8")
    caption.unlink()
    try:
        with pytest.raises(DataError, match=r"1 images have no text, e.g. circle/circle_001.png"):
            setup(text_config_factory, tmp_path)
    finally:
        caption.write_text(saved, encoding="utf-8")
