"""The run report (report.md + self-contained report.html, checked in headless Chromium), TensorBoard's single
timeline, and `keras-tl compare` -- all on one small trained run."""

import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

import keras_tl
from keras_tl.cli.main import main
from keras_tl.run_files import read_predictions
from tests.helpers import tiny_config

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")
# What the export package writes (docs/export.md); the report shows whatever of it is present.
EXPORT_REPORT = {
    "keras_accuracy": 0.5,
    "artifacts": [
        {"path": "export/model_fp32.tflite", "format": "tflite", "precision": "fp32", "size_bytes": 1_650_000,
         "sha256": "ab" * 32, "accuracy": 0.5, "top1_agreement": 1.0, "max_abs_diff": 2.1e-6,
         "latency_ms_p50": 1.234, "runtime": "ai-edge-litert"},
        {"path": "export/model_int8.onnx", "format": "onnx", "precision": "int8", "size_bytes": 520_000,
         "sha256": "cd" * 32, "accuracy": 0.4, "top1_agreement": 0.8, "max_abs_diff": 0.031,
         "latency_ms_p50": 0.61, "runtime": "onnxruntime"},
    ],
}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, image_folder, base_weights):
    """Both phases on a copy of the shared images plus a broken file (so the report has something quarantined)."""
    root = tmp_path_factory.mktemp("report")
    data = shutil.copytree(image_folder, root / "shapes")
    (data / "circle" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    config = tiny_config(root / "runs", data, base_weights, name="reported",
                         train={"phase1": {"epochs": 2}, "phase2": {"epochs": 1, "learning_rate": 1e-4}})
    return keras_tl.train_model(config, log=lambda *_: None)


def embedded_images(html: str) -> list[Image.Image]:
    sources = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources), sources
    return [Image.open(io.BytesIO(base64.b64decode(s.split(",", 1)[1]))).convert("RGB") for s in sources]


def test_report_md_has_every_section(trained_run):
    text = trained_run.report_file.read_text()
    assert "| class | train | val | test | total |" in text
    assert "| all classes | 24 | 6 | 6 | 36 |" in text  # split sizes
    assert "1 quarantined" in text and "- `circle/broken.png`: not a readable image" in text
    # Parameters per phase: the head alone (1280 features x 3 classes + 3), then the unfrozen top of the base.
    phase1 = re.search(r"^\| 1 \| head only .*? \| 3,843 \| ([\d,]+) \| 2 of 2 \|", text, re.M)
    phase2 = re.search(r"^\| 2 \| head \+ base from block\\?_13 .*? \| ([\d,]+) \| ([\d,]+) \| 1 of 1 \|", text, re.M)
    assert phase1 and phase2, text
    assert phase1.group(1) == phase2.group(2) and int(phase2.group(1).replace(",", "")) > 3843
    for image in ("plots/history.png", "plots/confusion_test.png"):
        assert f"]({image})" in text and (trained_run.path / image).is_file()
    assert "| circle |" in text.split("### Per class (test split)")[1]
    predictions = read_predictions(trained_run.predictions_file("test"))
    assert len(predictions) == 6 and all(0 <= p.confidence <= 1 and 0 <= p.error <= 1 for p in predictions)
    assert any(round(v, 4) != v for p in predictions for v in (p.confidence, p.error))  # written unrounded
    wrong = [p for p in predictions if p.label != p.predicted]
    grid = trained_run.plots_dir / "misclassified_test.png"
    assert grid.is_file() == bool(wrong) and ("misclassified_test.png" in text) == bool(wrong)


def test_report_html_renders_curves_and_confusion_matrix_in_chromium(trained_run, tmp_path):
    html = (trained_run.path / "report.html").read_text()
    assert "<table>" in html and "src=\"plots/" not in html  # self-contained: nothing to fetch
    for image in embedded_images(html):
        pixels = np.asarray(image)
        assert min(image.size) >= 100 and pixels.std() > 10  # a real picture, not a blank
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "headless Chromium is needed: apt-get install -y chromium (.ci/run installs it)"
    shot = tmp_path / "report.png"
    result = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                             "--window-size=1200,3600", f"--screenshot={shot}",
                             (trained_run.path / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)

    def count(rgb, tolerance=10):
        return int(np.sum(np.all(np.abs(pixels - np.array(rgb)) <= tolerance, axis=-1)))

    # Matplotlib draws the curves in its first two default colours and the busiest confusion cell in the darkest
    # blue of its colormap; no other part of the page uses these colours.
    assert count((31, 119, 180)) > 200, "training curves (train) not on screen"
    assert count((255, 127, 14)) > 200, "training curves (validation) not on screen"
    assert count((8, 48, 107)) > 500, "confusion matrix not on screen"


def test_tensorboard_shows_both_phases_on_one_timeline(trained_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def steps(subdir, tag):
        events = EventAccumulator(str(trained_run.tensorboard_dir / subdir), size_guidance={"tensors": 0})
        events.Reload()
        return [event.step for event in events.Tensors(tag)]

    assert steps("train", "epoch_loss") == [0, 1, 2]
    assert steps("validation", "epoch_loss") == [0, 1, 2]
    iterations = steps("validation", "evaluation_loss_vs_iterations")
    assert len(iterations) == 3 and iterations == sorted(set(iterations))  # phase 2 continues, never restarts


def test_report_after_export_and_compare(trained_run, tmp_path, capsys):
    other = keras_tl.RunFolder(shutil.copytree(trained_run.path, tmp_path / "exported"))
    other.export_dir.mkdir()
    (other.export_dir / "export_report.json").write_text(json.dumps(EXPORT_REPORT))
    assert main(["report", str(other.path)]) == 0
    assert capsys.readouterr().out.split() == [str(other.report_file), str(other.path / "report.html")]
    text = other.report_file.read_text()
    assert "## Export benchmark" in text and "Keras reference accuracy 0.5000" in text
    assert "| model_fp32.tflite | tflite | fp32 | 1.65 | 0.5 | 1 | 2.1e-06 | 1.23 | ai-edge-litert |" in text
    assert "| model_int8.onnx | onnx | int8 | 0.52 | 0.4 | 0.8 | 0.031 | 0.61 | onnxruntime |" in text
    assert "Export benchmark" in (other.path / "report.html").read_text()
    assert "Export benchmark" not in trained_run.report_file.read_text()

    assert main(["compare", str(trained_run.path), str(other.path)]) == 0
    table = capsys.readouterr().out.splitlines()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in table[2:]}
    assert [c.strip() for c in table[0].split("|")[2:4]] == ["reported", "exported"]
    accuracy = json.loads(trained_run.metrics_file.read_text())["test"]["accuracy"]
    assert rows["test accuracy"] == [f"{accuracy:.4f}"] * 2
    assert rows["images train/val/test"] == ["24/6/6"] * 2 and rows["epochs phase 1 + 2"] == ["2 + 1"] * 2
    assert rows["tflite fp32 size MB"] == ["-", "1.65"] and rows["onnx int8 p50 ms"] == ["-", "0.61"]
    assert rows["export keras_accuracy"] == ["-", "0.5"]
    assert main(["compare", str(trained_run.path), str(tmp_path)]) == 2
    assert "is not a keras-tl run folder" in capsys.readouterr().err


def test_a_broken_export_report_is_shown_not_fatal(trained_run, tmp_path, capsys, bad_input):
    other = keras_tl.RunFolder(shutil.copytree(trained_run.path, tmp_path / "broken"))
    other.export_report_file.parent.mkdir()
    other.export_report_file.write_text('{"artifacts": [{"format": "tflite", "precision": "fp32", "size_bytes": "big"}]}')
    assert main(["report", str(other.path)]) == 0, capsys.readouterr().err
    section = other.report_file.read_text().split("## Export benchmark", 1)[1]
    assert "is not a valid export report (artifacts.0.size_bytes: Input should be a valid integer" in section
    assert main(["compare", str(other.path)]) == 0
    assert "is not a valid export report" in capsys.readouterr().out
    bad_input("report and compare on an export report with a non-number size", "the problem shown, exit 0")
