"""Export of a trained run: six verified artifacts and their report, predict parity, and what happens to
artifacts that fail verification."""

import hashlib
import json
import re
import shutil

import numpy as np
import onnx
import pytest

import keras_tl

from keras_tl.export.artifacts import ArtifactSpec, staged_path
from keras_tl.export.exporter import Exporter
from keras_tl.export.inputs import RunInputs
from keras_tl.edge.tflite_metadata import read_labels, read_metadata
from keras_tl.export.runtimes import predictor_for
from keras_tl.cli.main import main
from keras_tl.run import RunFolder
from tests.export_helpers import negate_bytes
from tests.support.runs import images_in_splits

SIX = ["model_fp32.tflite", "model_fp16.tflite", "model_dynamic.tflite", "model_int8.tflite", "model_fp32.onnx",
       "model_int8.onnx"]
REPORT_FIELDS = {"path", "format", "precision", "size_bytes", "sha256", "accuracy", "top1_agreement", "max_abs_diff",
                 "latency_ms_p50", "latency_ms_p90", "runtime", "passed", "threshold", "status"}


def test_the_reference_decisions_are_clear(exported_run):
    """Agreement thresholds only mean something on clear decisions: a near-tie flips under any rounding."""
    run, _ = exported_run
    inputs = RunInputs(run, keras_tl.load_config(run.config_file))
    probs = np.sort(np.concatenate([inputs.model.predict(batch, verbose=0) for batch in inputs.batches()]), axis=1)
    assert float(np.min(probs[:, -1] - probs[:, -2])) > 0.2


def test_export_writes_six_verified_artifacts_and_the_report(exported_run):
    run, report = exported_run
    files = sorted(p.name for p in run.export_dir.iterdir())
    assert files == sorted(SIX + ["export_report.json"])  # nothing staged, failed or temporary is left
    assert json.loads((run.export_dir / "export_report.json").read_text()) == report
    # Accuracy on the test split; agreement on every image of the run (it needs no labels).
    assert report["split"] == "test" and report["samples"] == images_in_splits(run) > 15
    assert report["keras_accuracy"] == report["keras"]["accuracy"] > 0.8  # the model has learned the shapes
    assert report["thresholds"] == {"float_agreement": 0.99, "int8_agreement": 0.97}
    assert [a["path"] for a in report["artifacts"]] == [f"export/{name}" for name in SIX]
    for entry in report["artifacts"]:
        assert REPORT_FIELDS <= set(entry)
        assert entry["passed"] and entry["status"] == "passed", entry
        # The pass rule (export/verify.py): the 95 % interval reaches the threshold; the point estimate is close.
        assert entry["agreement_interval"][1] >= entry["threshold"] and entry["top1_agreement"] >= 0.9
        path = run.path / entry["path"]
        assert entry["size_bytes"] == path.stat().st_size
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["latency_ms_p50"] > 0 and entry["latency_ms_p90"] >= entry["latency_ms_p50"]
        assert entry["runtime"] == ("ai_edge_litert" if entry["format"] == "tflite" else "onnxruntime")
    by_name = {a["path"].split("/")[-1]: a for a in report["artifacts"]}
    assert by_name["model_fp32.tflite"]["max_abs_diff"] < 1e-4 and by_name["model_fp32.onnx"]["max_abs_diff"] < 1e-4
    assert by_name["model_int8.tflite"]["threshold"] == by_name["model_dynamic.tflite"]["threshold"] == 0.97


def test_full_int8_tflite_is_small_and_takes_pixel_valued_uint8(exported_run):
    run, report = exported_run
    sizes = {a["path"].split("/")[-1]: a["size_bytes"] for a in report["artifacts"]}
    assert sizes["model_dynamic.tflite"] < sizes["model_fp16.tflite"] < 0.55 * sizes["model_fp32.tflite"]
    int8 = next(a for a in report["artifacts"] if a["path"].endswith("model_int8.tflite"))
    # auto granularity tries per-tensor scales first and keeps them when they pass verification; otherwise the
    # per-channel file (bigger: its scale and zero-point vectors) is kept, and the report says why
    attempts = int8["details"].get("attempts")
    if attempts is None:
        assert int8["details"]["granularity"] == "per_tensor"
        assert sizes["model_int8.tflite"] <= 0.30 * sizes["model_fp32.tflite"]
    else:
        assert int8["details"]["granularity"] == "per_channel"
        assert attempts["per_tensor"]["size_bytes"] <= 0.30 * sizes["model_fp32.tflite"]
        assert attempts["per_tensor"]["top1_agreement"] < 0.97 <= attempts["per_channel"]["top1_agreement"]
    runtime = predictor_for(run.export_dir / "model_int8.tflite").model
    (image,) = runtime.inputs
    assert image.dtype == np.uint8 and (image.scale, image.zero_point) == (1.0, 0)  # a uint8 value is the pixel value
    assert runtime.output["dtype"] == np.float32


def test_labels_travel_inside_every_artifact(exported_run, tmp_path):
    run, _ = exported_run
    labels = run.labels()
    for name in SIX:
        moved = tmp_path / name  # away from the run folder and its labels.txt
        shutil.copyfile(run.export_dir / name, moved)
        assert predictor_for(moved).labels == labels, name
    content = (run.export_dir / "model_fp16.tflite").read_bytes()
    assert read_labels(content, read_metadata(content)) == labels
    onnx_model = onnx.load(str(run.export_dir / "model_int8.onnx"))
    assert json.loads({p.key: p.value for p in onnx_model.metadata_props}["labels"]) == labels
    assert onnx_model.opset_import[0].version >= 17
    onnx.checker.check_model(onnx_model)


def test_predict_gives_the_same_top1_for_keras_tflite_and_onnx(exported_run, capsys):
    run, _ = exported_run
    images = sorted((run.path.parent.parent / "shapes").rglob("*.png"))[::7]
    tops = {}
    for model in (run.path, run.export_dir / "model_fp32.tflite", run.export_dir / "model_fp32.onnx"):
        assert main(["predict", str(model), *map(str, images), "--top-k", "2"]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        tops[model.name] = [re.match(r".*?: (\w+) (\d\.\d+)", line).group(1) for line in lines]
    assert len(tops[run.path.name]) == len(images) >= 5
    assert tops[run.path.name] == tops["model_fp32.tflite"] == tops["model_fp32.onnx"]
    assert len(set(tops[run.path.name])) == 3  # the model tells the shapes apart


@pytest.fixture(scope="module")
def exporter(exported_run, tmp_path_factory):
    """An Exporter over a private copy of the exported run (its tests break artifacts on purpose)."""
    run = RunFolder(shutil.copytree(exported_run[0].path, tmp_path_factory.mktemp("broken") / "run"))
    config = run.config()
    return Exporter(RunInputs(run, config), config.export, None, log=lambda *_: None)


@pytest.mark.parametrize("keep_failed", [False, True])
def test_corrupted_tflite_weights_fail_verification_and_never_get_the_final_name(exporter, exported_run,
                                                                                  keep_failed):
    exporter.config = exporter.config.model_copy(update={"keep_failed": keep_failed})
    spec = ArtifactSpec("tflite", "fp32")
    final = exporter.export_dir / spec.filename
    staged = staged_path(final)
    shutil.copyfile(exported_run[0].export_dir / spec.filename, final)  # what an earlier export left
    shutil.copyfile(final, staged)  # a fresh conversion, as export stages it
    kernel = exporter.inputs.model.get_layer("tl_predictions").get_weights()[0]
    negate_bytes(staged, kernel.T)  # TFLite stores the Dense kernel as [classes, features]

    result = exporter.publish(spec, staged, exporter.verify(spec, staged))

    assert result.status == "failed" and not result.passed
    assert result.top1_agreement < 0.97 and result.max_abs_diff > 0.1
    assert not final.exists() and not staged.exists()  # the earlier good file is gone too: it is not this model
    failed = final.with_name(final.name + ".failed")
    assert failed.exists() == keep_failed
    assert result.path == (f"export/{failed.name}" if keep_failed else None)


def test_zeroed_onnx_weights_fail_verification(exporter):
    spec = ArtifactSpec("onnx", "fp32")
    final = exporter.export_dir / spec.filename
    model = onnx.load(str(final))
    kernel = exporter.inputs.model.get_layer("tl_predictions").get_weights()[0]
    (weights,) = [w for w in model.graph.initializer if tuple(w.dims) in (kernel.shape, kernel.T.shape)]
    weights.CopyFrom(onnx.numpy_helper.from_array(np.zeros(tuple(weights.dims), np.float32), weights.name))
    staged = staged_path(final)
    onnx.save(model, str(staged))

    result = exporter.publish(spec, staged, exporter.verify(spec, staged))

    assert result.status == "failed" and result.top1_agreement < 0.99
    assert not final.exists() and not staged.exists()


def test_a_file_its_runtime_cannot_load_fails_verification(exporter):
    spec = ArtifactSpec("tflite", "int8")
    staged = staged_path(exporter.export_dir / spec.filename)
    staged.write_bytes((exporter.export_dir / spec.filename).read_bytes()[:5000])  # cut short

    result = exporter.publish(spec, staged, exporter.verify(spec, staged))

    assert result.status == "failed" and "ai_edge_litert could not run it" in result.error
    assert not (exporter.export_dir / spec.filename).exists() and not staged.exists()


def test_cli_exports_a_subset_then_benchmarks_what_is_there(copy_run, capsys):
    (copy_run.export_dir / "model_int8.onnx").unlink()
    (copy_run.export_dir / "model_fp16.tflite.partial").write_bytes(b"left by an interrupted export")
    args = ["-o", "export.benchmark.runs=3", "-o", "export.benchmark.warmup=1"]

    assert main(["export", str(copy_run.path), "--formats", "tflite", "--quantize", "fp16", *args]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == str(copy_run.export_dir / "export_report.json")
    assert not (copy_run.export_dir / "model_fp16.tflite.partial").exists()
    present = [f"export/{name}" for name in SIX if name != "model_int8.onnx"]
    export_report = json.loads((copy_run.export_dir / "export_report.json").read_text())
    assert [a["path"] for a in export_report["artifacts"]] == present  # the earlier files are verified again

    assert main(["benchmark", str(copy_run.path), *args]) == 0
    out = capsys.readouterr().out
    for name in ("model.keras", *(p.split("/")[1] for p in present)):
        assert re.search(rf"^\d+\s+{re.escape(name)}\s+\S+\s+(reference|passed)\s", out, re.M), name
    report = json.loads((copy_run.export_dir / "export_report.json").read_text())
    assert report["command"] == "benchmark" and [a["path"] for a in report["artifacts"]] == present
    int8 = next(a for a in report["artifacts"] if a["path"].endswith("model_int8.tflite"))
    assert int8["details"]["image_input"] == "uint8"  # how a file was built survives later runs
    assert all(a["latency_ms_p50"] > 0 for a in report["artifacts"])


def test_cli_refuses_what_export_cannot_do(exported_run, capsys):
    run, _ = exported_run
    assert main(["export", str(run.path), "-o", "model.dropout=0.5"]) == 2
    assert "only export.* overrides" in capsys.readouterr().err
    assert main(["export", str(run.path), "--formats", "tfjs"]) == 2
    assert "export.formats" in capsys.readouterr().err
