"""MediaPipe Tasks' ImageClassifier (the real package, in its own venv) loads every exported image .tflite,
finds our labels and normalization in the metadata, and agrees with ``keras-tl predict``."""

import re

import pytest
from PIL import Image

from keras_tl.cli.main import main
from tests.mediapipe_venv import classify

IMAGE_ARTIFACTS = ["model_fp32.tflite", "model_fp16.tflite", "model_dynamic.tflite", "model_int8.tflite"]
IMAGE_PROPERTIES, NORMALIZATION_OPTIONS, TENSOR_AXIS_LABELS, RGB = 2, 1, 2, 1  # metadata_schema.fbs enums
UINT8, FLOAT32 = 3, 0  # TFLite TensorType


@pytest.mark.slow
def test_mediapipe_image_classifier_reads_our_metadata_and_agrees_with_predict(exported_run, tmp_path, capsys):
    run, _ = exported_run
    # Images at the model's size, so MediaPipe's resize and ours cannot make the inputs differ.
    sources = [line.split("\t")[0] for line in (run.splits_dir / "test.txt").read_text().splitlines()][:6]
    root = run.path.parent.parent / "shapes"
    images = []
    for i, source in enumerate(sources):
        images.append(tmp_path / f"image_{i}.png")
        Image.open(root / source).convert("RGB").resize((32, 32), Image.BILINEAR).save(images[-1])
    models = [run.export_dir / name for name in IMAGE_ARTIFACTS]

    found = classify(models, images)

    labels = run.labels()
    for model in models:
        metadata = found[str(model)]["metadata"]
        assert metadata["name"] == run.path.name and metadata["min_parser_version"] == "1.0.0"
        assert metadata["input_name"] == "image" and metadata["content_type"] == IMAGE_PROPERTIES
        assert metadata["process_unit_type"] == NORMALIZATION_OPTIONS
        assert metadata["mean"] == [0.0] and metadata["std"] == [1.0]
        assert metadata["color_space"] == RGB and metadata["default_size"] == [32, 32]
        assert metadata["labels_file"] == "labels.txt" and metadata["labels_file_type"] == TENSOR_AXIS_LABELS
        if model.name == "model_int8.tflite":
            assert metadata["input_type"] == UINT8 and metadata["input_scale"] == [1.0]
            assert metadata["input_zero_point"] == [0]
        else:
            assert metadata["input_type"] == FLOAT32

        assert main(["predict", str(model), *map(str, images), "--top-k", "3"]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        for image, line in zip(images, lines):
            ours = [(label, float(score)) for label, score in re.findall(r"(\w+) (\d\.\d{3})", line.split(": ", 1)[1])]
            theirs = found[str(model)]["categories"][str(image)]
            assert sorted(name for name, _ in theirs) == sorted(labels)
            their_scores = dict(theirs)
            # Same top-1: int8 softmax outputs come in steps of 1/256, so an exact tie may be ordered either way
            assert their_scores[ours[0][0]] >= theirs[0][1] - 1e-6, (model.name, image.name, theirs, ours)
            assert abs(their_scores[ours[0][0]] - ours[0][1]) < 0.005, (model.name, theirs, ours)
