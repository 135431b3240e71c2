"""One runtime (keras_tl.edge.model) runs every exported file: export verification gives the very probabilities the
edge runner prints on a device, text-only and image files run through the same classes, and ONNX Runtime sessions
get the settings keras_tl chose."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from PIL import Image

from keras_tl.data import load_images
from keras_tl.edge.model import ONNX_LABELS_KEY, open_model
from keras_tl.errors import KerasTLError
from keras_tl.export.runtimes import artifact_outputs, predictor_for
from keras_tl.predict import predict_files
from tests.edge_venv import edge_python, json_lines, run_edge
from tests.predict_reference import split_images

ARTIFACTS = ("model_fp32.tflite", "model_fp16.tflite", "model_dynamic.tflite", "model_int8.tflite",
             "model_fp32.onnx", "model_int8.onnx")
LABELS = ["circle", "square", "triangle"]
LENGTH = 5  # the tiny text model's token length


def write_onnx(path, graph_nodes, inputs, initializers=()):
    graph = helper.make_graph(graph_nodes, "tiny", inputs,
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 3])],
                              initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(model, {ONNX_LABELS_KEY: json.dumps(LABELS)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def image_onnx(path):
    """Softmax of each channel's mean pixel / 100, for [n, 4, 4, 3] raw pixels."""
    return write_onnx(path, [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2], keepdims=0),
                             helper.make_node("Mul", ["mean", "scale"], ["logits"]),
                             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1)],
                      [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 4, 4, 3])],
                      [helper.make_tensor("scale", TensorProto.FLOAT, [], [0.01])])


def text_onnx(path):
    """Softmax of (sum of the unpadded token ids) x [0.1, 0, -0.1]: a model that reads only a text."""
    tokens = [helper.make_tensor_value_info(name, TensorProto.INT32, [None, LENGTH])
              for name in ("token_ids", "padding_mask")]
    nodes = [helper.make_node("Mul", ["token_ids", "padding_mask"], ["kept"]),
             helper.make_node("Cast", ["kept"], ["kept_float"], to=TensorProto.FLOAT),
             helper.make_node("ReduceSum", ["kept_float", "axis"], ["total"], keepdims=1),
             helper.make_node("Mul", ["total", "weights"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1)]
    return write_onnx(path, nodes, tokens, [helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
                                            helper.make_tensor("weights", TensorProto.FLOAT, [1, 3], [0.1, 0.0, -0.1])])


def write_tokenizer(path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordPiece({"[PAD]": 0, "[UNK]": 1, "a": 2, "circle": 3, "square": 4},
                                           unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.enable_truncation(LENGTH)
    tokenizer.enable_padding(length=LENGTH, pad_id=0, pad_token="[PAD]")
    tokenizer.save(str(path))


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def test_an_image_file_runs_in_batches_and_one_image_at_a_time_alike(tmp_path):
    model = open_model(image_onnx(tmp_path / "image.onnx"), threads=2)
    pixels = np.random.default_rng(0).uniform(0, 255, (6, 4, 4, 3)).astype("float32")

    probs = model.run({"image": pixels})

    assert model.labels == LABELS and model.image_size == 4 and not model.takes_text
    np.testing.assert_allclose(probs, softmax(pixels.mean(axis=(1, 2)) * 0.01), rtol=1e-5)
    # one image per call, as the edge runner feeds them; in one call ORT's reduction may round differently
    assert all(np.array_equal(model.predict(image)[0], row) for image, row in zip(pixels, probs))
    assert np.array_equal(predictor_for(model.path, threads=2).predict_images(pixels), probs)
    np.testing.assert_allclose(model.run({"image": pixels}, batched=True), probs, rtol=1e-6)


def test_onnx_sessions_get_keras_tl_settings(tmp_path):
    options = open_model(image_onnx(tmp_path / "image.onnx"), threads=3).session.get_session_options()
    assert options.intra_op_num_threads == 3 and options.inter_op_num_threads == 1
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_a_text_only_file_predicts_from_its_text_alone(tmp_path):
    path = text_onnx(tmp_path / "text.onnx")
    model = open_model(path)
    assert model.image_size is None and model.text_inputs == ["token_ids", "padding_mask"]
    with pytest.raises(KerasTLError, match="tokenizer.json is missing"):
        predict_files(predictor_for(path), [], text="a circle")
    write_tokenizer(tmp_path / "tokenizer.json")

    (prediction,) = predict_files(predictor_for(path), [], k=3, text="a circle square")

    ids_total = 2 + 3 + 4  # "a circle square", no padding counted
    expected = softmax(np.array([0.1, 0.0, -0.1]) * ids_total)
    assert prediction.path == "text: a circle square" and prediction.label == "circle"
    np.testing.assert_allclose([score for _, score in prediction.top], np.sort(expected)[::-1], rtol=1e-5)
    with pytest.raises(KerasTLError, match="takes only text"):
        predict_files(predictor_for(path), [tmp_path / "image.png"], text="a circle")


@pytest.mark.slow  # the first run builds the venv
def test_the_edge_runner_classifies_a_text_alone(tmp_path):
    path = text_onnx(tmp_path / "text.onnx")
    write_tokenizer(tmp_path / "tokenizer.json")
    venv = edge_python("onnxruntime", "tokenizers")

    result = run_edge(venv, [str(path), "--text", "a circle square", "--json", "--top-k", "3"])

    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = json_lines(result.stdout)
    expected = predictor_for(path).predict_images(None, text="a circle square")[0]
    assert line["input"] == "text: a circle square" and dict(line["top"]) == dict(zip(LABELS, map(float, expected)))
    refused = run_edge(venv, [str(path), str(tmp_path / "text.onnx"), "--text", "a circle"])
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == "error: text.onnx takes only a text: pass --text and no images"


@pytest.mark.slow
def test_verification_and_the_edge_runner_give_bit_identical_probabilities(exported_run, tmp_path):
    """The same pixels (PNGs at the model's size, which training's decoder and the edge's read alike) go through
    what verification runs and through the edge runner in its TensorFlow-free venv: every probability is equal."""
    run, _ = exported_run
    threads = run.config().export.benchmark.threads
    size = open_model(run.export_dir / "model_fp32.tflite").image_size
    images = []
    for index, source in enumerate(split_images(run)[:6]):
        images.append(tmp_path / f"image_{index}.png")
        Image.open(source).convert("RGB").resize((size, size), Image.BILINEAR).save(images[-1])
    pixels = load_images([str(p) for p in images], size)  # the pixels verification's pipeline feeds
    assert np.array_equal(pixels, np.stack([np.asarray(Image.open(p), np.float32) for p in images]))
    venv = edge_python("onnxruntime", "tokenizers")

    for name in ARTIFACTS:
        model = run.export_dir / name
        verified = artifact_outputs(model, model.suffix[1:], [{"image": pixels}], threads)
        result = run_edge(venv, [str(model), *map(str, images), "--json", "--top-k", str(len(run.labels())),
                                 "--threads", str(threads)])

        assert result.returncode == 0, result.stderr[-2000:]
        printed = {line["input"]: dict(line["top"]) for line in json_lines(result.stdout)}
        for image, row in zip(images, verified):
            assert printed[str(image)] == dict(zip(run.labels(), map(float, row))), (name, image.name)
    assert len(set(verified.argmax(axis=1))) >= 2  # the images are told apart: not one constant output


@pytest.mark.slow
def test_tf2onnx_leaves_one_layout_transpose_before_the_convolutions(exported_run):
    """ORT's layout pass runs convolutions in its blocked format; a Transpose between layers (NHWC <-> NCHW) would
    make every one of them pay a copy."""
    run, _ = exported_run
    for name in ("model_fp32.onnx", "model_int8.onnx"):
        ops = [node.op_type for node in onnx.load(str(run.export_dir / name)).graph.node]  # in topological order
        assert ops.count("Transpose") == 1 and ops.index("Transpose") < ops.index("Conv"), (name, ops)
