"""An export killed with -9 leaves nothing half-written under a final artifact name; rerunning finishes it."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from keras_tl.export.artifacts import STAGED_SUFFIX, spec_for_file
from keras_tl.export.runtimes import predictor_for


@pytest.mark.slow
def test_killed_export_leaves_no_half_written_artifact(copy_run):
    for artifact in copy_run.export_dir.iterdir():
        if artifact.is_file():
            artifact.unlink()
    command = [sys.executable, "-m", "keras_tl", "export", str(copy_run.path), "--formats", "tflite,onnx",
               "--quantize", "fp32,int8", "-o", "export.benchmark.runs=2"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    deadline = time.time() + 240
    # Kill while an artifact is staged: its bytes exist, but it has not passed verification yet.
    while time.time() < deadline and proc.poll() is None:
        if any(copy_run.export_dir.glob(f"model_*{STAGED_SUFFIX}")):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "export finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finals = [p for p in copy_run.export_dir.iterdir() if spec_for_file(p) is not None]
    for path in finals:  # whatever carries a final name was verified before the kill, and still works
        predictor = predictor_for(path)
        assert predictor.labels == copy_run.labels()
    result = subprocess.run(command, capture_output=True, text=True, timeout=400, env={**os.environ})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    names = sorted(p.name for p in copy_run.export_dir.iterdir() if not p.name.startswith("."))
    assert names == ["export_report.json", "model_fp32.onnx", "model_fp32.tflite", "model_int8.onnx",
                     "model_int8.tflite"]
    report = json.loads((copy_run.export_dir / "export_report.json").read_text())
    assert report["all_passed"] and len(report["artifacts"]) == 4
