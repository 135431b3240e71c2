"""What predict, evaluate, export, benchmark, report and compare tell the user when something is off: a truncated
model file, an unreadable image among good ones, failed artifacts, a run without a val split -- and the noise
(C++ logs, warnings, unlabelled progress bars) a user should never meet. Each case is recorded with ``bad_input``."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from keras_tl.models import load_trained_model
from tests.export_helpers import negate_bytes
from tests.helpers import draw_shape
from tests.support.bad_inputs import expect_error, run_cli
from tests.support.files import write_config

EXPORT_FAST = ["-o", "export.benchmark.runs=2", "-o", "export.benchmark.warmup=1"]


@pytest.fixture
def six_images(tmp_path):
    """Five good images and one unreadable file, in two sub-folders."""
    root = tmp_path / "inputs"
    for i, kind in enumerate(("circle", "square", "triangle", "circle", "square")):
        (root / ("good" if i < 3 else "odd")).mkdir(parents=True, exist_ok=True)
        draw_shape(kind, (200, 40 * i, 30), 40, seed=i).save(root / ("good" if i < 3 else "odd") / f"{i}.png")
    (root / "odd" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is no image")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("model", ["run folder", "model_fp32.tflite", "model_fp32.onnx"])
def test_an_unreadable_file_is_named_and_the_others_predicted(exported_run, six_images, capsys, bad_input, model):
    run, _ = exported_run
    target = run.path if model == "run folder" else run.export_dir / model
    code, out, err = run_cli(capsys, "predict", target, six_images)
    assert code == 1, err
    assert err.strip().splitlines() == [f"error: cannot read {six_images / 'odd' / 'broken.png'}: "
                                        + err.split("broken.png: ", 1)[1].strip()], err
    assert "Op:" not in err and "function_node" not in err
    assert sorted(line.split(":")[0] for line in out.splitlines()) == sorted(
        str(p) for p in six_images.rglob("*.png") if p.name != "broken.png")
    bad_input(f"one unreadable file among six ({model})", "named on stderr, the other five predicted, exit 1")


@pytest.mark.slow
def test_truncated_model_keras_is_named_truncated(copy_run, six_images, capsys, bad_input):
    code, out, _ = run_cli(capsys, "evaluate", copy_run.path, "--split", "val")
    assert code == 0 and out.startswith("val split: accuracy ") and out.strip().endswith("images)"), out
    bad_input("evaluate --split val", "the split is named in the output")
    data = copy_run.model_file.read_bytes()
    copy_run.model_file.write_bytes(data[: len(data) // 2])
    for command in (["evaluate", copy_run.path], ["export", copy_run.path, "--formats", "tflite", "--quantize", "fp32"],
                    ["benchmark", copy_run.path], ["predict", copy_run.path, six_images / "good"]):
        line = expect_error(capsys, bad_input, f"truncated model.keras to {command[0]}", "not a valid .keras file",
                            *command)
        assert "File not found" not in line and "truncated" in line


@pytest.mark.slow
def test_failed_artifacts_stay_failed_until_an_export_replaces_them(copy_run, six_images, capsys, bad_input):
    """A real export re-verifies the files already there: one whose weights no longer match the model fails, is
    kept as .failed (--keep-failed), and every later benchmark, report and compare shows it failed."""
    kernel = load_trained_model(copy_run.model_file).get_layer("tl_predictions").get_weights()[0]
    negate_bytes(copy_run.export_dir / "model_fp32.tflite", kernel.T)
    code, _, err = run_cli(capsys, "export", copy_run.path, "--formats", "tflite", "--quantize", "fp16",
                           "--keep-failed", *EXPORT_FAST)
    failed_file = copy_run.export_dir / "model_fp32.tflite.failed"
    assert code == 1 and failed_file.is_file() and not (copy_run.export_dir / "model_fp32.tflite").exists(), err

    code, _, err = run_cli(capsys, "benchmark", copy_run.path, *EXPORT_FAST)
    report = json.loads((copy_run.export_dir / "export_report.json").read_text())
    entries = {(a["format"], a["precision"]): a for a in report["artifacts"]}
    assert code == 1 and report["all_passed"] is False, err
    assert entries[("tflite", "fp32")]["status"] == "failed" and len(entries) == 6
    bad_input("benchmark after an export with a failed artifact", "keeps the failed row, all_passed false, exit 1")

    assert run_cli(capsys, "report", copy_run.path)[0] == 0
    text = copy_run.report_file.read_text()
    section = text.split("## Export benchmark", 1)[1]
    assert "1 of 6 artifacts FAILED verification**: model_fp32.tflite.failed" in section
    row = next(line for line in section.splitlines() if line.startswith("| model_fp32.tflite.failed |"))
    assert row.rstrip().endswith("| failed |"), row
    assert "command: benchmark" not in section and "keras_tl_version" not in section
    assert "0.94444" not in section and "| model.keras | keras | fp32 |" in section
    assert "FAILED verification" in (copy_run.path / "report.html").read_text()
    bad_input("report after a failed artifact", "the table marks it failed")

    code, out, _ = run_cli(capsys, "compare", copy_run.path)
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in out.splitlines()[2:]}
    assert rows["tflite fp32 status"] == "failed" and rows["export all_passed"] == "no", out
    assert not {"export keras_tl_version", "export command", "export created", "export run"} & set(rows), out
    bad_input("compare after a failed artifact", "shows it failed, no meaningless rows")

    code, out, err = run_cli(capsys, "predict", failed_file, six_images / "good")
    assert code == 0 and len(out.strip().splitlines()) == 3, err
    assert err.strip() == "warning: model_fp32.tflite.failed failed verification at export: its predictions may " \
                          "differ from the Keras model's", err
    bad_input("predict on a kept .tflite.failed", "predicted, with a warning on stderr")


@pytest.mark.slow
def test_a_run_without_a_val_split_trains_exports_and_reports(tmp_path, config_factory, capsys, bad_input):
    config = config_factory(name="noval", data={"val_fraction": 0.0},
                            train={"phase1": {"epochs": 2}, "phase2": {"epochs": 0}})
    code, out, err = run_cli(capsys, "train", write_config(tmp_path / "noval.yaml", config))
    run = tmp_path / "runs" / "noval"
    assert code == 0 and "NA" in (run / "history.csv").read_text(), err
    bad_input("train without a val split", "trained and reported")
    code, _, err = run_cli(capsys, "export", run, "--formats", "tflite", "--quantize", "fp32", *EXPORT_FAST)
    assert code == 0, err
    bad_input("export without a val split", "exported and reported")
    code, _, err = run_cli(capsys, "benchmark", run, *EXPORT_FAST)
    assert code == 0, err
    bad_input("benchmark without a val split", "benchmarked and reported")
    assert run_cli(capsys, "report", run)[0] == 0
    text = (run / "report.md").read_text()
    assert "Best `loss`: " in text and "| NA" not in text
    assert "<summary>Resolved config</summary>" in text and "val_fraction: 0.0" in text
    assert "Report written 20" in text and "Training: 2 epochs, started 20" in text
    assert f"Command: `keras-tl train {tmp_path / 'noval.yaml'}`" in text  # the command as the user typed it
    bad_input("report without a val split", "best train loss shown, no NA")


@pytest.mark.slow
def test_no_noise_on_a_terminal_with_tf_cpp_min_log_level_2(tmp_path, config_factory, bad_input):
    """A real CLI process on a pseudo-terminal (where Keras draws its bars), cached phase 1, then evaluate."""
    config = config_factory(name="quiet", data={"augment": {"flip": "none", "rotation": 0, "zoom": 0, "contrast": 0}},
                            train={"phase1": {"epochs": 2}, "phase2": {"epochs": 0}, "cache_features": "on",
                                   "verbose": 1})
    path = write_config(tmp_path / "quiet.yaml", config)
    # The default augmentation: phase 1 runs the base on every batch, then phase 2 (no cached features).
    augmented = write_config(tmp_path / "augmented.yaml", config_factory(
        name="augmented", train={"phase1": {"epochs": 2}, "phase2": {"epochs": 1}, "verbose": 1}))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "default"}
    seen = ""
    for args in (["train", path], ["evaluate", tmp_path / "runs" / "quiet"], ["train", augmented]):
        command = shlex.join([sys.executable, "-m", "keras_tl", *map(str, args)])
        result = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True,
                                timeout=600, env=env, cwd=os.getcwd())
        assert result.returncode == 0, result.stdout[-3000:]
        seen += result.stdout
    for noise in ("cuInit", "NodeDef", "E0000", "I0000", "UserWarning", "ran out of data", "1/1 ━", "64/64"):
        assert noise not in seen, (noise, seen[-3000:])
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", seen).replace("\r", "\n")
    counts = [re.match(r"\s*(\d+)/(\S+) ", line) for line in plain.splitlines() if "━" in line]
    assert counts and {m.group(2) for m in counts if m} == {"3"}, plain  # 3 batches of 8 per epoch, counted once
    assert "test split: accuracy" in seen
    bad_input("TF_CPP_MIN_LOG_LEVEL=2 in the environment", "no C++ log lines")
    bad_input("cached phase 1 on a terminal", "no ran-out-of-data warning, bar counts its 3 batches")
    bad_input("evaluate on a terminal", "no unlabelled 1/1 bar")
    bad_input("augmented phase 1 and phase 2 on a terminal", "no ran-out-of-data warning")


def test_truncated_model_keras_as_base_weights(tmp_path, capsys, bad_input, config_factory, base_weights):
    truncated = tmp_path / "base.keras"
    data = base_weights.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    config = write_config(tmp_path / "t.yaml", config_factory(name="t", model={"weights": str(truncated)}))
    line = expect_error(capsys, bad_input, "truncated model.keras as model.weights", "not a valid .keras file",
                        "train", config)
    assert "File not found" not in line and "model.weights" in line
