"""The keras-tl command line: subcommands, one-line errors, and a killed training that resumes when rerun."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from keras_tl.cli.main import main
from tests.support.files import write_config

SUBCOMMANDS = ("train", "evaluate", "export", "predict", "benchmark", "data", "quickstart")


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "keras_tl", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)




def test_help_lists_every_subcommand():
    result = run_cli("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+{name}\b", result.stdout, re.M), name


def test_config_typo_is_one_line_on_stderr(tmp_path, config_factory):
    path = write_config(tmp_path / "exp.yaml", config_factory())
    path.write_text(path.read_text().replace("batch_size:", "batchsize:"))
    result = run_cli("train", path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown config key 'data.batchsize'; did you mean 'data.batch_size'?" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_data_check_reports_without_writing(tmp_path, image_folder, capsys):
    (image_folder / "circle" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    try:
        assert main(["data", "check", str(image_folder)]) == 0
        out = capsys.readouterr().out
        assert "36 usable images" in out and "quarantined circle/broken.jpg: not a readable image" in out
        assert "usable images per class: circle 12, square 12, triangle 12" in out
    finally:
        (image_folder / "circle" / "broken.jpg").unlink()


def test_train_evaluate_predict_in_process(tmp_path, config_factory, image_folder, capsys):
    path = write_config(tmp_path / "cli.yaml", config_factory(name="cli"))
    assert main(["train", str(path), "-o", "train.phase2.epochs=0"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    run_dir = out[-1]
    assert run_dir.endswith("cli") and "test split: accuracy" in "\n".join(out)
    assert main(["evaluate", run_dir, "--split", "val"]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert set(json.loads((tmp_path / "runs" / "cli" / "metrics.json").read_text())) == {"test", "val"}
    image = next((image_folder / "square").glob("*.png"))
    assert main(["predict", run_dir, str(image), "--top-k", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{image}: ") and len(re.findall(r"(circle|square|triangle) \d\.\d{3}", line)) == 2
    assert main(["predict", run_dir, str(tmp_path / "missing.png")]) == 2
    assert "input not found" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("phase", [1, 2])
def test_killed_training_resumes_when_rerun(tmp_path, config_factory, phase):
    """Killed with -9 mid-phase and rerun, training continues where it stopped and ends where an uninterrupted
    run ends: same batches, augmentations, dropout masks and early-stopping count after the restart."""
    epochs = {"phase1": {"epochs": 30 if phase == 1 else 2}, "phase2": {"epochs": 30 if phase == 2 else 2}}
    train = {**epochs, "verbose": 2, "early_stopping_patience": 25}
    config = config_factory(name="killed", train=train)
    path = write_config(tmp_path / "killed.yaml", config)
    run_dir = tmp_path / "runs" / "killed"
    metadata = run_dir / "checkpoints" / f"phase{phase}" / "training_metadata.json"
    first_epoch = 0 if phase == 1 else 2
    proc = subprocess.Popen([sys.executable, "-m", "keras_tl", "train", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(metadata.read_text())["epoch"] >= first_epoch + 2:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "model.keras").exists()
    done = json.loads(metadata.read_text())["epoch"]
    result = run_cli("train", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"phase {phase}: resuming" in result.stdout
    epoch_lines = re.findall(r"^Epoch (\d+)/", result.stdout, re.M)
    assert int(epoch_lines[0]) == done + 1  # continued where it stopped, did not start over
    epochs_logged = sorted(history(run_dir))
    assert epochs_logged == list(range(len(epochs_logged)))  # no epoch lost
    assert (run_dir / "model.keras").is_file() and (run_dir / "metrics.json").is_file()

    reference = write_config(tmp_path / "reference.yaml", config_factory(name="reference", train=train))
    assert run_cli("train", reference).returncode == 0
    uninterrupted_dir = tmp_path / "runs" / "reference"
    assert sorted(history(uninterrupted_dir)) == epochs_logged  # early stopping ended both at the same epoch
    resumed = json.loads((run_dir / "metrics.json").read_text())["test"]
    uninterrupted = json.loads((uninterrupted_dir / "metrics.json").read_text())["test"]
    assert abs(resumed["accuracy"] - uninterrupted["accuracy"]) <= 0.005
    last = epochs_logged[-1]
    assert history(run_dir)[last] == pytest.approx(history(uninterrupted_dir)[last], rel=1e-4)


def history(run_dir) -> dict[int, float]:
    """val_loss per epoch; an epoch logged twice (killed after its row was written) keeps its last row."""
    with (run_dir / "history.csv").open(newline="") as handle:
        return {int(row["epoch"]): float(row["val_loss"]) for row in csv.DictReader(handle)}
