"""The edge runner (mobile_demo/edge) in a fresh venv with only its own requirements: TensorFlow and keras_tl are
not there, and it gives the same top-1 as ``keras-tl predict`` on the exported run's real test images."""

import re
import subprocess

import numpy as np
import pytest

from tests.edge_venv import edge_python, json_lines, run_edge
from tests.predict_reference import assert_same_top1, predict_top, split_images
from tests.venvs import clean_env

# Largest top-1 probability gap allowed against ``keras-tl predict`` (which prints 3 decimals). The inputs match
# to float rounding (the runner decodes and resizes like TensorFlow); a uint8 input can still round a pixel the
# other way, and the int8 model's steps of 1/256 turn that into a few steps.
ARTIFACTS = {"model_fp32.tflite": 0.005, "model_int8.tflite": 0.05}


@pytest.fixture(scope="session")
def edge_venv():
    return edge_python()


@pytest.mark.slow  # the first run builds the venv
def test_edge_venv_has_no_tensorflow_or_keras_tl(edge_venv):
    check = ("import importlib.util, sys, edge; "
             "print([m for m in ('tensorflow', 'keras', 'keras_tl', 'export') if importlib.util.find_spec(m)]); "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'tf_keras'}))")
    result = subprocess.run([str(edge_venv), "-c", check], capture_output=True, text=True, timeout=120,
                            cwd="mobile_demo", env=clean_env())
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["[]", "[]"]
    refused = subprocess.run([str(edge_venv), "-c", "import tensorflow"], capture_output=True, text=True,
                             env=clean_env())
    assert refused.returncode == 1 and "No module named 'tensorflow'" in refused.stderr


@pytest.mark.slow
@pytest.mark.parametrize("artifact", sorted(ARTIFACTS))
def test_edge_runner_agrees_with_predict_on_the_test_images(edge_venv, exported_run, artifact, capsys):
    run, _ = exported_run
    model = run.export_dir / artifact
    images = split_images(run)

    result = run_edge(edge_venv, [str(model), *map(str, images), "--json", "--top-k", "3"])

    assert result.returncode == 0, result.stderr[-3000:]
    edge = {line["input"]: line for line in json_lines(result.stdout)}
    assert len(edge) == len(images) == 15
    theirs = predict_top(model, images, capsys)
    for image in images:
        top = edge[str(image)]["top"]
        assert sorted(label for label, _ in top) == sorted(run.labels())  # labels came from the file's zip
        assert_same_top1(top, theirs[str(image)], ARTIFACTS[artifact], image.name)
        assert edge[str(image)]["latency_ms"] > 0
    assert re.search(r"15 inputs, ai_edge_litert, latency ms: median \d+\.\d+", result.stderr)


@pytest.mark.slow
def test_edge_runner_reports_a_bad_image_in_one_line(edge_venv, exported_run, tmp_path):
    run, _ = exported_run
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")

    result = run_edge(edge_venv, [str(run.export_dir / "model_int8.tflite"), str(broken)])

    assert result.returncode == 2
    assert "Traceback" not in result.stderr  # LiteRT's own INFO line may come first
    assert result.stderr.splitlines()[-1].startswith(f"error: cannot read image {broken}: cannot identify image")


@pytest.mark.slow
def test_edge_onnx_reads_labels_from_metadata_and_agrees_with_tflite(exported_run):
    from mobile_demo.edge import load_image, open_model

    run, _ = exported_run
    onnx_model = open_model(run.export_dir / "model_fp32.onnx")
    tflite_model = open_model(run.export_dir / "model_fp32.tflite")
    assert onnx_model.labels == tflite_model.labels == run.labels()
    for image in split_images(run)[:5]:
        pixels = load_image(image, onnx_model.image_size)
        onnx_probs, _ = onnx_model.predict(pixels)
        tflite_probs, _ = tflite_model.predict(pixels)
        np.testing.assert_allclose(onnx_probs, tflite_probs, atol=1e-4)
