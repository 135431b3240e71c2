"""The run folder's result files: one typed model each (keras_tl/run_files.py), numbers kept as numbers, files of
earlier versions still read, a broken file named in one line, and every path spelled by RunFolder alone."""

import ast
import json
import re
from pathlib import Path

import pytest

from keras_tl.config import load_config, save_config
from keras_tl.errors import RunFolderError
from keras_tl.run import OWN_ENTRIES, RunFolder
from keras_tl.run_files import ExportReport, Metrics, PredictionRow, SplitMetrics, read_predictions, write_predictions
from tests.support.bad_inputs import expect_error

ROOT = Path(__file__).resolve().parents[1]
# What metrics.json held before it had a model (keras_tl 0.1.0): the model must still read it.
OLD_METRICS = {"test": {"samples": 6, "accuracy": 0.5, "top_3_accuracy": 1.0, "macro_f1": 0.4444444444444444,
                        "per_class": {"a": {"precision": 0.5, "recall": 1.0, "f1": 0.6666666666666666, "support": 3}},
                        "confusion_matrix": [[3, 0], [3, 0]], "split": "test"},
               "val": {"samples": 4, "exact_match": 0.25, "accuracy": 0.75, "micro_f1": 0.7, "per_class": {},
                       "split": "val"}}


def test_metrics_round_trip_keeps_every_score_as_a_float(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({**OLD_METRICS, "val": {**OLD_METRICS["val"], "of_a_later_version": {"x": [1]}}}))
    metrics = Metrics.read(path)
    assert metrics.root["test"].scores() == {"accuracy": 0.5, "top_3_accuracy": 1.0, "macro_f1": 0.4444444444444444}
    assert metrics.root["val"].scores() == {"exact_match": 0.25, "accuracy": 0.75, "micro_f1": 0.7}
    assert metrics.root["test"].per_class["a"].support == 3
    metrics.write(path)
    assert json.loads(path.read_text()) == OLD_METRICS  # the same shape: no nulls for scores a split lacks
    assert Metrics.read(tmp_path / "missing.json").root == {}


@pytest.mark.parametrize("text,problem", [
    ('{"test": {"samples": 6, "accuracy": 0.5', "Invalid JSON"),
    ('{"test": {"samples": 6, "accuracy": "0.5 (rounded)"}}', "test.accuracy: Input should be a valid number"),
    ('{"test": {"samples": 6, "accuracy": 0.5, "top_3_accuracy": "high"}}', "top_3_accuracy must be a number"),
    ('["test"]', "Input should be an object"),
], ids=["truncated", "string-score", "string-extra-score", "list"])
def test_a_broken_metrics_file_is_one_line(tmp_path, bad_input, text, problem):
    path = tmp_path / "metrics.json"
    path.write_text(text)
    with pytest.raises(RunFolderError) as refused:
        Metrics.read(path)
    message = str(refused.value)
    assert message.startswith(f"{path} is not a valid metrics file (") and problem in message, message
    assert "\n" not in message and message.endswith("; delete it and evaluate the run again")
    bad_input(f"metrics.json {problem}", "one-line error naming the file")


def test_commands_name_a_broken_metrics_file_in_one_line(tmp_path, capsys, bad_input):
    run = RunFolder(tmp_path / "run").ensure()
    save_config(load_config(), run.config_file)
    run.metrics_file.write_text('{"test": {"samples": 6, "accuracy": ')  # cut short by hand: keras_tl writes atomically
    expect_error(capsys, bad_input, "compare a run with a truncated metrics.json",
                 f"{run.metrics_file} is not a valid metrics file (Invalid JSON", "compare", run.path)


def test_predictions_keep_unrounded_floats_and_odd_labels(tmp_path):
    rows = [PredictionRow(image='a, "b"/x.png', file="/data/x.png", label='a, "b"', predicted="new\nline",
                          confidence=0.123456789012345, error=1 / 3),
            PredictionRow(image="c/y.png", file="/data/y.png", label="café ☕", predicted="café ☕", confidence=1.0,
                          error=0.0)]
    path = tmp_path / "predictions" / "test.csv"
    write_predictions(path, rows)
    assert read_predictions(path) == rows
    assert read_predictions(tmp_path / "predictions" / "val.csv") == []


def test_rounded_predictions_of_earlier_versions_still_read(tmp_path, bad_input):
    path = tmp_path / "test.csv"
    path.write_text("image,file,label,predicted,confidence,error\nc/1.png,/d/1.png,c,s,0.8731,0.9002\n")
    (row,) = read_predictions(path)
    assert (row.confidence, row.error) == (0.8731, 0.9002)
    path.write_text("image,file,label,predicted,confidence,error\nc/1.png,/d/1.png,c,s,high,0.9\n")
    with pytest.raises(RunFolderError, match=r"test.csv:2 is not a row of a predictions file \(confidence: "):
        read_predictions(path)
    bad_input("predictions file with a non-number confidence", "one-line error naming the file")


def test_export_reports_read_whatever_they_hold(tmp_path, bad_input):
    path = tmp_path / "export_report.json"
    # A hand-made report with one artifact and no status: the table shows no status column for it.
    path.write_text(json.dumps({"keras_accuracy": 0.5, "future_key": {"x": 1}, "artifacts": [
        {"path": "export/model_fp32.tflite", "format": "tflite", "precision": "fp32", "size_bytes": 1650000}]}))
    report = ExportReport.read(path)
    (entry,) = report.entries
    assert report.keras_accuracy == 0.5 and entry.outcome is None and entry.name == "model_fp32.tflite"
    assert isinstance(entry.size_bytes, int) and entry.latency_ms_p50 is None
    assert ExportReport.read(tmp_path / "none.json") is None
    path.write_text(json.dumps({"artifacts": [{"format": "onnx", "precision": "int8", "status": "maybe"}]}))
    with pytest.raises(RunFolderError, match=r"is not a valid export report \(artifacts.0.status: Input should be "):
        ExportReport.read(path)
    bad_input("export report with an unknown status", "one-line error naming the file")


def test_split_metrics_refuse_a_missing_sample_count():
    with pytest.raises(ValueError, match="samples"):
        SplitMetrics.model_validate({"accuracy": 0.5})


def test_run_folder_names_every_result_file(tmp_path):
    run = RunFolder(tmp_path)
    owned = [run.html_report_file, run.predictions_file("test"), run.export_report_file, run.pruned_model_file,
             run.qat_reference_file, run.phases_file, run.backup_dir(1, head_only=True), run.best_weights_file(2),
             run.done_weights_file(1), run.finished_dir(2), run.metrics_file]
    assert all(p.relative_to(tmp_path).parts[0] in OWN_ENTRIES for p in owned)  # --overwrite may delete them
    assert len(set(owned)) == len(owned)


# The file names RunFolder owns: no other module may write them out (a docstring may mention them).
OWNED_NAMES = ("export_report.json", "report.html", "metrics.json", "phases.json", "model_pruned.keras",
               "model_qat_int8.reference.npz", "training.json", "predictions/", "checkpoints/")


def test_no_module_but_run_py_spells_a_run_folder_file_name():
    spelled = []
    sources = [p for folder in ("keras_tl", "export") for p in (ROOT / folder).rglob("*.py")]
    for path in sources:
        if path == ROOT / "keras_tl" / "run.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                spelled += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in OWNED_NAMES
                            if spells(node.value, name)]
    assert not spelled, spelled


def spells(text: str, name: str) -> bool:
    """Whether a string of code is (or ends in, or for a folder starts with) the file name: prose is not."""
    if name.endswith("/"):
        return text.startswith(name) or f"/{name}" in text
    return re.search(rf"(^|/){re.escape(name)}$", text) is not None
