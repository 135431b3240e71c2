"""Image+text end to end: a manifest with a text column -> train -> the run folder (with tokenizer.json) ->
evaluate and predict --text from the command line. The tiny BERT keeps it fast; test_text_tower checks that the
real MiniLM-L6 checkpoint builds the same tower."""

import json

import numpy as np
import pytest
import yaml

import keras_tl
from keras_tl.cli.main import main
from keras_tl.config import config_to_dict
from keras_tl.data import TextTokenizer
from keras_tl.predict import KerasPredictor, predict_files
from tests.text_helpers import SPECIAL, write_text_manifest


@pytest.fixture(scope="module")
def fused_run(tmp_path_factory, captioned_folder, base_weights, tiny_bert):
    from tests.helpers import tiny_config

    root = tmp_path_factory.mktemp("fused-run")
    manifest = write_text_manifest(captioned_folder, root / "data")
    config = tiny_config(root / "runs", manifest, base_weights, name="fused", model={"modality": "image_text"},
                         text={"weights": str(tiny_bert), "max_length": 12, "projection_units": 8,
                               "fine_tune_layers": 1})
    path = root / "fused.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(config)))
    assert main(["train", str(path)]) == 0
    return keras_tl.RunFolder(root / "runs" / "fused")


@pytest.mark.slow
def test_fused_run_folder_and_evaluate(fused_run, capsys):
    assert fused_run.tokenizer_file.is_file() and fused_run.model_file.is_file()
    metrics = json.loads(fused_run.metrics_file.read_text())
    assert metrics["test"]["samples"] == 6
    report = fused_run.report_file.read_text()
    assert "Text tower: BERT" in report and "concat fusion" in report
    assert main(["evaluate", str(fused_run.path), "--split", "val"]) == 0
    assert "(6 images)" in capsys.readouterr().out


@pytest.mark.slow
def test_predict_with_text_from_the_command_line(fused_run, captioned_folder, capsys):
    image = captioned_folder / "square" / "square_000.jpg"
    assert main(["predict", str(fused_run.path), str(image), "--text", "a photo of the square", "--top-k", "2"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"{image}: ") and line.count(",") == 1

    assert main(["predict", str(fused_run.path), str(image)]) == 2
    assert capsys.readouterr().err.strip() == 'error: this model also takes a text: pass it with --text "..."'


@pytest.mark.slow
def test_the_text_changes_the_prediction_through_the_saved_model(fused_run, captioned_folder):
    predictor = KerasPredictor.from_path(fused_run.path)
    image = captioned_folder / "circle" / "circle_000.jpg"
    probs = {text: predict_files(predictor, [image], text=text)[0].top for text in
             ("a photo of the circle", "what color is the shape ? blue")}
    assert probs["a photo of the circle"] != probs["what color is the shape ? blue"]
    # The run's tokenizer.json is the one the model was trained with: tokens of the training texts.
    tokens = TextTokenizer.load(fused_run.tokenizer_file).encode(["a photo of the circle"])
    assert tokens["token_ids"][0, 0] == SPECIAL.index("[CLS]") and int(tokens["padding_mask"].sum()) == 7


@pytest.mark.slow
def test_text_only_run_predicts_from_text_alone(tmp_path, text_config_factory, capsys):
    config = text_config_factory(name="text_only", model={"modality": "text"},
                                 train={"phase1": {"epochs": 1}, "phase2": {"epochs": 0}})
    path = tmp_path / "text.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(config)))
    assert main(["train", str(path)]) == 0
    run_dir = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["predict", run_dir, "--text", "a photo of the triangle", "--top-k", "3"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("text: a photo of the triangle: ")
    scores = [float(part.split()[-1]) for part in out.split(": ", 2)[-1].split(", ")]
    assert len(scores) == 3 and np.isclose(sum(scores), 1.0, atol=2e-3)
