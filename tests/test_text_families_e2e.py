"""Each text encoder family end to end on a tiny random Hugging Face checkpoint: train both phases (the top layer of
the text encoder unfrozen in phase 2) on captioned shapes, export int8 and fp32 TFLite and ONNX (the text tower's
mixed int8 recipe), every file verified, and the TensorFlow-free edge runner's ``--text`` gives
``keras-tl predict --text``'s answers from the run's tokenizer.json. Random tiny checkpoints only: no real weights."""

import json

import pytest

import keras_tl
from keras_tl.export import export_run
from keras_tl.models import load_trained_model, text_encoder_family
from keras_tl.text_checkpoint import TEXT_FAMILIES
from tests.edge_venv import edge_python, json_lines, run_edge
from tests.helpers import NO_AUGMENT, make_image_folder, tiny_config
from tests.predict_reference import assert_same_top1, predict_top, split_images_by_text
from tests.support.hf_text_checkpoints import FAMILIES, make_hf_checkpoint
from tests.text_helpers import add_sidecar_texts

# The bounds of test_mobile_edge_text.py: fp32 files agree to the printed digits, int8 files within 0.1.
ARTIFACTS = {"model_int8.tflite": 0.1, "model_fp32.onnx": 0.005}


@pytest.fixture(scope="module")
def text_edge_venv():
    return edge_python("onnxruntime", "tokenizers")


def train_and_export(root, family, shapes_base):
    folder = add_sidecar_texts(make_image_folder(root / "shapes", per_class=20))
    checkpoint = make_hf_checkpoint(family, root / f"{family}-checkpoint")
    config = tiny_config(root / "runs", folder, shapes_base, name=family, model={"modality": "image_text"},
                         text={"weights": str(checkpoint), "encoder": family, "max_length": 12,
                               "projection_units": 8, "fine_tune_layers": 1},
                         data={"test_fraction": 0.25, "val_fraction": 0.15, **NO_AUGMENT},
                         train={"phase1": {"epochs": 20, "learning_rate": 1e-2}, "phase2": {"epochs": 1},
                                "early_stopping_patience": 0, "restore_best": False})
    run = keras_tl.train_model(config, log=lambda *_: None)
    report = export_run(run.path, ["export.formats=[tflite,onnx]", "export.quantize=[fp32,int8]",
                                   "export.benchmark.runs=2", "export.benchmark.warmup=1"], log=lambda *_: None)
    return run, report


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_family_trains_exports_and_runs_on_the_edge(family, tmp_path, shapes_base, text_edge_venv, capsys):
    run, report = train_and_export(tmp_path, family, shapes_base)

    model = load_trained_model(run.model_file)
    assert text_encoder_family(model) == family
    assert f"Text tower: {TEXT_FAMILIES[family].title} " in run.report_file.read_text(encoding="utf-8")
    history = run.history_file.read_text(encoding="utf-8").splitlines()
    assert len(history) - 1 == 21  # 20 epochs of phase 1, 1 of phase 2
    entries = {(a["format"], a["precision"]): a for a in report["artifacts"]}
    assert set(entries) == {(f, p) for f in ("tflite", "onnx") for p in ("fp32", "int8")}
    for entry in entries.values():
        assert entry["passed"], entry
    for entry in (entries["tflite", "int8"], entries["onnx", "int8"]):
        assert entry["details"]["text_tower"] == "mixed"
    assert entries["tflite", "int8"]["size_bytes"] < run.model_file.stat().st_size
    tokenizer = json.loads(run.tokenizer_file.read_text(encoding="utf-8"))
    assert json.loads((run.export_dir / "tokenizer.json").read_text(encoding="utf-8")) == tokenizer
    assert tokenizer["model"]["type"] == {"bert": "WordPiece", "distilbert": "WordPiece", "roberta": "BPE",
                                          "xlm_roberta": "Unigram", "albert": "Unigram"}[family]

    capsys.readouterr()  # training's and export's output, before predict's lines are read
    by_text = split_images_by_text(run)
    labels = set()
    for artifact, gap in ARTIFACTS.items():
        path = run.export_dir / artifact
        for text, images in by_text.items():
            result = run_edge(text_edge_venv, [str(path), *map(str, images), "--text", text, "--json"])
            assert result.returncode == 0, result.stderr[-3000:]
            edge = {line["input"]: line["top"] for line in json_lines(result.stdout)}
            theirs = predict_top(path, images, capsys, text=text)
            for image in images:
                assert_same_top1(edge[str(image)], theirs[str(image)], gap, (artifact, image.name, text))
                labels.add(edge[str(image)][0][0])
    assert len(labels) >= 2  # the images and texts move the answer: agreement is not on one constant output
