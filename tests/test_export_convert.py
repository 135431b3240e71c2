"""TFLite conversion on its own: ops TFLite cannot express are named, and multi-input models quantize to int8."""

import json
import shutil

import keras
import numpy as np
import pytest

from keras_tl.export import tflite
from keras_tl.export.errors import UnsupportedOpsError
from keras_tl.edge.model import TFLiteModel
from keras_tl.edge.tflite_metadata import read_labels, read_metadata
from keras_tl.export.metadata import attach_metadata
from keras_tl.export.runtimes import predictor_for
from keras_tl.cli.main import main


@keras.saving.register_keras_serializable(package="tests")
class InverseErf(keras.layers.Layer):
    """A layer whose op (Erfinv) has no TFLite builtin kernel."""

    def call(self, inputs):
        return keras.ops.erfinv(keras.ops.tanh(inputs) * 0.5)


def model_with_erfinv(size: int = 32) -> keras.Model:
    image = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0)(image)
    x = InverseErf(name="odd_layer")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(image, keras.layers.Dense(3, activation="softmax", name="tl_predictions")(x))


def test_an_op_without_a_builtin_kernel_is_named(tmp_path):
    saved = tmp_path / "saved"
    model_with_erfinv().export(str(saved), format="tf_saved_model", verbose=False)
    with pytest.raises(UnsupportedOpsError) as caught:
        tflite.convert(saved, "fp32")
    assert caught.value.ops == ["Erfinv"]
    assert str(caught.value).startswith("TFLite builtin ops cannot express Erfinv: set export.allow_flex_ops=true")


def test_export_of_a_run_whose_model_needs_such_an_op_reports_it(copy_run, capsys):
    model_with_erfinv().save(copy_run.model_file)
    code = main(["export", str(copy_run.path), "--formats", "tflite", "--quantize", "fp32,int8",
                 "-o", "export.benchmark.runs=1"])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "model_fp32.tflite: error: TFLite builtin ops cannot express Erfinv" in out
    assert "model_int8.tflite: error: TFLite builtin ops cannot express Erfinv" in out
    assert not (copy_run.export_dir / "model_fp32.tflite").exists()  # the old model's artifact is gone too
    report = json.loads((copy_run.export_dir / "export_report.json").read_text())
    status = {(a["format"], a["precision"]): a["status"] for a in report["artifacts"]}
    assert status[("tflite", "fp32")] == status[("tflite", "int8")] == "error" and not report["all_passed"]
    # the files an earlier export left are checked against the new model too: they no longer match it, so
    # they leave their final names
    assert status[("onnx", "fp32")] == "failed"
    assert not any(copy_run.export_dir.glob("model_*"))


def test_multi_input_model_quantizes_to_int8_from_a_dict_keyed_dataset(tmp_path):
    image = keras.Input((16, 16, 3), name="image")
    extra = keras.Input((4,), name="extra")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(image)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Concatenate()([x, keras.layers.Dense(4, activation="relu")(extra)])
    model = keras.Model([image, extra], keras.layers.Dense(3, activation="softmax")(x))
    saved = tmp_path / "saved"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    rng = np.random.default_rng(0)
    samples = [{"image": rng.uniform(0, 255, (1, 16, 16, 3)).astype("float32"),
                "extra": rng.normal(size=(1, 4)).astype("float32")} for _ in range(20)]

    converted = tflite.convert(saved, "int8", representative=lambda: iter(samples))
    path = tmp_path / "model.tflite"
    path.write_bytes(attach_metadata(converted, ["a", "b", "c"], image_input="image", image_size=16, name="two",
                                     description="two inputs", version="0"))

    runtime = TFLiteModel(path)
    inputs = {spec.name: spec for spec in runtime.inputs}
    assert sorted(inputs) == ["extra", "image"] and runtime.image_input.name == "image"
    # The converter gives every float input the one inference_input_type; only the image's scale is pinned
    assert inputs["image"].dtype == inputs["extra"].dtype == np.uint8
    assert (inputs["image"].scale, inputs["image"].zero_point) == (1.0, 0) and inputs["extra"].scale > 0
    batch = {k: np.concatenate([s[k] for s in samples]) for k in ("image", "extra")}
    probs = runtime.run(batch)  # the extra input is quantized with its own parameters, as the image is
    reference = model.predict([batch["image"], batch["extra"]], verbose=0)
    assert probs.shape == (20, 3) and np.abs(probs - reference).max() < 0.1
    content = path.read_bytes()
    assert read_labels(content, read_metadata(content)) == runtime.labels == ["a", "b", "c"]


def test_a_kept_failed_file_is_still_readable_by_its_runtime(exported_run, tmp_path):
    run, _ = exported_run
    failed = tmp_path / "model_int8.tflite.failed"
    shutil.copyfile(run.export_dir / "model_int8.tflite", failed)
    predictor = predictor_for(failed)
    assert isinstance(predictor.model, TFLiteModel) and predictor.labels == run.labels()
