"""The edge runner's ``--text`` on an exported image+text run, in a fresh venv with the runner's requirements plus
only tokenizers and onnxruntime (no TensorFlow, no keras_tl): every artifact gives the same top-1 as
``keras-tl predict --text`` on the test samples, each read with its own caption."""

import re
import subprocess

import pytest

from tests.edge_venv import REQUIREMENTS, edge_python, json_lines, run_edge
from tests.predict_reference import assert_same_top1, predict_top, split_images_by_text
from tests.venvs import clean_env

# Largest top-1 probability gap allowed against ``keras-tl predict`` (3 decimals). The runner's resized pixels
# match TensorFlow's to ~5e-5, and the fp32 files agree to the printed digits. The int8 files take float images
# and quantize them inside, where pixels that sit on a rounding boundary can fall the other way: on the circle
# JPEGs that moved the int8 TFLite top-1 by up to 0.051 (13 steps of 1/256) without changing it; the bound leaves
# room for a retrained fixture and stays below the 0.2 lead of every reference decision (test_export_text.py).
ARTIFACTS = {"model_fp32.tflite": 0.005, "model_int8.tflite": 0.1, "model_fp32.onnx": 0.005, "model_int8.onnx": 0.1}


@pytest.fixture(scope="session")
def text_edge_venv():
    return edge_python("onnxruntime", "tokenizers")


@pytest.mark.slow  # the first run builds the venv
def test_text_venv_has_the_extras_but_no_tensorflow(text_edge_venv):
    check = ("import importlib.util; print([m for m in ('tokenizers', 'onnxruntime', 'tensorflow', 'keras', "
             "'keras_tl') if importlib.util.find_spec(m)])")
    result = subprocess.run([str(text_edge_venv), "-c", check], capture_output=True, text=True, timeout=120,
                            cwd=REQUIREMENTS.parents[1], env=clean_env())  # where run_edge runs the runner
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "['tokenizers', 'onnxruntime']"


@pytest.mark.slow
@pytest.mark.parametrize("artifact", sorted(ARTIFACTS))
def test_edge_runner_with_text_agrees_with_predict(text_edge_venv, fused_export, artifact, capsys):
    run, _, _ = fused_export
    model = run.export_dir / artifact
    by_text = split_images_by_text(run)
    assert sum(map(len, by_text.values())) == 15 and len(by_text) >= 3

    runtime = "ai_edge_litert" if model.suffix == ".tflite" else "onnxruntime"
    top1_labels = set()
    for text, images in by_text.items():
        result = run_edge(text_edge_venv, [str(model), *map(str, images), "--text", text, "--json"])

        assert result.returncode == 0, result.stderr[-3000:]
        assert re.search(rf"{len(images)} inputs, {runtime}, latency ms: median", result.stderr)
        edge = {line["input"]: line["top"] for line in json_lines(result.stdout)}
        theirs = predict_top(model, images, capsys, text=text)
        assert len(edge) == len(theirs) == len(images)
        for image in images:
            assert_same_top1(edge[str(image)], theirs[str(image)], ARTIFACTS[artifact], (image.name, text))
            top1_labels.add(edge[str(image)][0][0])
    assert len(top1_labels) >= 2  # images and texts move the answer: agreement is not on one constant output


@pytest.mark.slow
@pytest.mark.parametrize("artifact", ["model_int8.tflite", "model_int8.onnx"])
def test_edge_runner_refuses_a_fused_model_without_text_or_tokenizer(text_edge_venv, fused_export, artifact,
                                                                     tmp_path):
    run, _, folder = fused_export
    image = str(folder / "circle" / "circle_001.png")

    result = run_edge(text_edge_venv, [str(run.export_dir / artifact), image])

    assert result.returncode == 2 and "Traceback" not in result.stderr  # LiteRT's own INFO line may come first
    message = result.stderr.splitlines()[-1]
    expected = rf'error: {re.escape(artifact)} also takes a text \(([a-z_]+, )*[a-z_]+\): pass --text "\.\.\."'
    assert re.fullmatch(expected, message), message
    assert "token_ids" in message and "padding_mask" in message

    alone = tmp_path / artifact
    alone.write_bytes((run.export_dir / artifact).read_bytes())
    result = run_edge(text_edge_venv, [str(alone), image, "--text", "a photo of the circle"])

    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (f"error: {artifact} takes a text, but there is no tokenizer.json beside "
                                              "it (copy the run's tokenizer.json there, or pass --tokenizer)")
