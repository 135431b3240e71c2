"""Export of an image+text run: int8 TFLite and ONNX (text tower partly float) pass verification, tokenizer.json
goes next to them, and `predict --text` gives the same answers from the .keras, .tflite and .onnx files.

The run transfers from the shapes-pretrained base and reads captions that name the shape or its colour, so its
decisions are clear (every test sample's top-1 leads by a wide margin: checked below) and agreement means
something."""

import json

import numpy as np
import pytest

import keras_tl
from keras_tl.export import predictor_for
from keras_tl.cli.main import main
from keras_tl.predict import KerasPredictor, predict_files
from tests.support.runs import images_in_splits

TEXTS = ("a photo of the circle", "what color is the shape ? green", "what color is the shape ? blue")


@pytest.mark.slow
def test_int8_tflite_and_onnx_of_a_fused_model_pass_verification(fused_export):
    run, report, _ = fused_export
    assert report["samples"] == images_in_splits(run) > 15 and report["keras_accuracy"] >= 0.85
    entries = {(a["format"], a["precision"]): a for a in report["artifacts"]}
    assert set(entries) == {(f, p) for f in ("tflite", "onnx") for p in ("fp32", "int8")}  # fp32: edge tests
    for entry in entries.values():
        assert entry["passed"] and entry["top1_agreement"] >= 0.97, entry
    for entry in (entries["tflite", "int8"], entries["onnx", "int8"]):
        assert entry["details"]["text_tower"] == "mixed"
    assert entries["onnx", "int8"]["details"]["route"] == "saved_model"  # tf2onnx from_keras fails on dict inputs
    assert entries["onnx", "int8"]["details"]["float_nodes"] > 0
    # The default keeps only the text tower float: the image part is int8 and the file is far below fp32 size.
    assert entries["tflite", "int8"]["size_bytes"] < 0.6 * run.model_file.stat().st_size
    assert json.loads((run.export_dir / "tokenizer.json").read_text()) == json.loads(run.tokenizer_file.read_text())


@pytest.mark.slow
def test_the_reference_decisions_are_clear(fused_export):
    from keras_tl.export.inputs import RunInputs
    from keras_tl.export.verify import predict_all

    run, _, _ = fused_export
    inputs = RunInputs(run, keras_tl.load_config(run.config_file))
    probs = np.sort(predict_all(lambda batch: inputs.model.predict(batch, verbose=0), inputs.batches()), axis=1)
    assert float(np.min(probs[:, -1] - probs[:, -2])) > 0.2


@pytest.mark.slow
def test_predict_with_text_agrees_across_keras_tflite_and_onnx(fused_export, capsys):
    """Any image with any text: the fp32 files give Keras' answer. The int8 files must too wherever Keras' answer
    is clear; mismatched image/text pairs make near-ties, which any rounding may flip."""
    run, _, folder = fused_export
    images = [folder / kind / f"{kind}_00{i}.png" for kind in ("circle", "square", "triangle") for i in (1, 2)]
    keras_predictor = KerasPredictor.from_path(run.path)
    exported = {name: predictor_for(run.export_dir / name) for name in
                ("model_fp32.tflite", "model_fp32.onnx", "model_int8.tflite", "model_int8.onnx")}
    labels, clear = set(), 0
    for text in TEXTS:
        expected = predict_files(keras_predictor, images, text=text)
        for name, predictor in exported.items():
            got = [p.label for p in predict_files(predictor, images, text=text)]
            for reference, label in zip(expected, got):
                margin = reference.top[0][1] - reference.top[1][1]
                if "fp32" in name or margin > 0.2:
                    assert label == reference.label, (name, text, reference)
                    clear += "int8" in name
        labels.update(p.label for p in expected)
    assert len(labels) >= 2  # the texts and images move the answer: agreement is not on one constant output
    assert clear >= len(images) * len(TEXTS)  # most int8 answers were checked, not waved through as near-ties

    outputs = []
    for model in (run.path, run.export_dir / "model_int8.tflite", run.export_dir / "model_int8.onnx"):
        assert main(["predict", str(model), str(images[0]), "--text", TEXTS[1], "--top-k", "1"]) == 0
        outputs.append(capsys.readouterr().out.strip().splitlines()[-1].rsplit(" ", 1)[0])
    assert len(set(outputs)) == 1, outputs


@pytest.mark.slow
def test_exported_text_models_refuse_a_missing_text_or_tokenizer(fused_export, tmp_path, capsys):
    run, _, folder = fused_export
    image = folder / "circle" / "circle_001.png"
    artifact = run.export_dir / "model_int8.tflite"
    assert main(["predict", str(artifact), str(image)]) == 2
    assert capsys.readouterr().err.strip() == 'error: model_int8.tflite also takes a text: pass it with --text "..."'

    alone = tmp_path / "model_int8.onnx"
    alone.write_bytes((run.export_dir / "model_int8.onnx").read_bytes())
    assert main(["predict", str(alone), str(image), "--text", TEXTS[0]]) == 2
    assert "tokenizer.json is missing" in capsys.readouterr().err


@pytest.mark.slow
def test_an_image_model_artifact_refuses_text(exported_run, image_folder, capsys):
    run, _ = exported_run
    image = next(image_folder.rglob("*.png"))
    assert main(["predict", str(run.export_dir / "model_int8.tflite"), str(image), "--text", "a circle"]) == 2
    assert capsys.readouterr().err.strip() == "error: model_int8.tflite takes no text input; leave out --text"
