"""train.distribution: TensorFlow's strategies train the same model as one device; multi-worker trains and resumes.

The strategies need TensorFlow configured before it starts (logical devices, collective ops), so the training
runs here are subprocesses; only loopback addresses are used."""

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from keras_tl.config import config_to_dict, load_config
from keras_tl.train.distribution import DistributionError, place, scaled_for_replicas

TESTS = Path(__file__).resolve().parent
NO_AUGMENTATION = {"augment": {"flip": "none", "rotation": 0, "zoom": 0, "contrast": 0}}


def write_config(path: Path, config) -> Path:
    path.write_text(yaml.safe_dump(config_to_dict(config)))
    return path


def history(run: Path) -> list[dict]:
    with (run / "history.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_batch_and_learning_rates_scale_with_replicas():
    config = load_config(data={"batch_size": 16}, train={"phase1": {"learning_rate": 1e-3},
                                                         "phase2": {"learning_rate": 1e-5}})
    linear = scaled_for_replicas(config, 4)
    assert linear.data.batch_size == 64
    assert linear.train.phase1.learning_rate == pytest.approx(4e-3)
    assert linear.train.phase2.learning_rate == pytest.approx(4e-5)
    assert config.data.batch_size == 16  # the saved config keeps the per-replica values
    def with_scaling(rule):
        return config.model_copy(update={"train": config.train.model_copy(update={"lr_scaling": rule})})

    sqrt = scaled_for_replicas(with_scaling("sqrt"), 4)
    assert (sqrt.data.batch_size, sqrt.train.phase1.learning_rate) == (64, pytest.approx(2e-3))
    fixed = scaled_for_replicas(with_scaling("none"), 4)
    assert (fixed.data.batch_size, fixed.train.phase1.learning_rate) == (64, pytest.approx(1e-3))
    assert scaled_for_replicas(config, 1) is config


def test_unusable_strategies_are_one_line_errors(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(DistributionError, match="needs the TF_CONFIG environment variable"):
        place(load_config(train={"distribution": "multi_worker"}).train)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(DistributionError, match="TF_CONFIG is not valid JSON"):
        place(load_config(train={"distribution": "multi_worker"}).train)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"], "ps": ["127.0.0.1:2"]},
                                                "task": {"type": "ps", "index": 0}}))
    with pytest.raises(DistributionError, match="task type must be 'chief' or 'worker'"):
        place(load_config(train={"distribution": "multi_worker"}).train)
    with pytest.raises(DistributionError, match=r"^cannot use TPU 'local' \(train.tpu\): ") as error:
        place(load_config(train={"distribution": "tpu"}).train)  # this machine has no TPU
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_matches_one_device(tmp_path, config_factory):
    # One step per epoch (the whole 24-image train split in one global batch): under a strategy Keras draws one
    # batch before training to build the model, which advances the seeded reshuffle by one epoch, so with several
    # steps the two runs would see batches in a different order. The sum of the gradients does not depend on it.
    # SGD, not Adam: Adam's step hardly depends on the gradient's scale, so it would hide a wrong reduction.
    def config(name, batch_size, distribution, factor):
        return config_factory(name=name, data={"batch_size": batch_size, **NO_AUGMENTATION}, model={"dropout": 0.0},
                              train={"distribution": distribution, "early_stopping_patience": 0,
                                     "phase1": {"epochs": 3, "optimizer": "sgd", "learning_rate": 0.01 * factor},
                                     "phase2": {"epochs": 1, "optimizer": "sgd", "learning_rate": 0.002 * factor}})

    # One device at batch 24 and LR x2 == 2 replicas at 12 per replica with the configured LR scaled x2 (linear).
    single = write_config(tmp_path / "single.yaml", config("single", 24, "none", 2.0))
    mirrored = write_config(tmp_path / "mirrored.yaml", config("mirrored", 12, "mirrored", 1.0))
    result = subprocess.run([sys.executable, str(TESTS / "run_on_two_cpus.py"), str(single), str(mirrored)],
                            capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "mirrored: 2 replicas, 12 images per replica and step, learning rates x2" in result.stdout
    runs = tmp_path / "runs"
    one, two = history(runs / "single"), history(runs / "mirrored")
    assert len(one) == len(two) == 4
    for row_one, row_two in zip(one, two):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert float(row_two[key]) == pytest.approx(float(row_one[key]), rel=1e-4, abs=1e-5), (row_one, row_two)
    assert float(one[-1]["loss"]) < float(one[0]["loss"]) - 0.05  # it learned: the comparison is not trivial
    metrics_one = json.loads((runs / "single" / "metrics.json").read_text())["test"]
    metrics_two = json.loads((runs / "mirrored" / "metrics.json").read_text())["test"]
    assert metrics_two["accuracy"] == metrics_one["accuracy"]
    assert metrics_two["confusion_matrix"] == metrics_one["confusion_matrix"]
    confidence = [[float(r["confidence"]) for r in csv.DictReader((runs / name / "predictions" / "test.csv").open())]
                  for name in ("single", "mirrored")]
    np.testing.assert_allclose(confidence[1], confidence[0], atol=1e-4)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(config: Path, scratch: Path, logs: Path) -> list[subprocess.Popen]:
    """Two workers on 127.0.0.1 (worker 0 is the chief), each running the same `keras-tl train` command."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(scratch),
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        log = (logs / f"worker{index}.log").open("w")
        workers.append(subprocess.Popen([sys.executable, "-m", "keras_tl", "train", str(config)], stdout=log,
                                        stderr=subprocess.STDOUT, text=True, env=env))
    return workers


def _finish(workers: list[subprocess.Popen], logs: Path, timeout: float = 400) -> list[str]:
    deadline = time.time() + timeout
    for worker in workers:
        try:
            worker.wait(timeout=max(deadline - time.time(), 1))
        except subprocess.TimeoutExpired:
            for w in workers:
                w.kill()
            pytest.fail("multi-worker training hung:\n" + (logs / "worker0.log").read_text()[-3000:])
    return [(logs / f"worker{i}.log").read_text() for i in range(len(workers))]


@pytest.mark.slow
def test_multi_worker_trains_and_resumes_after_a_kill(tmp_path, config_factory):
    epochs = 4
    config = write_config(tmp_path / "mw.yaml", config_factory(name="mw", train={
        "distribution": "multi_worker", "verbose": 2, "early_stopping_patience": 0,
        "phase1": {"epochs": epochs}, "phase2": {"epochs": 1}}))
    run = tmp_path / "runs" / "mw"
    scratch, first_logs, second_logs = tmp_path / "scratch", tmp_path / "first", tmp_path / "second"
    for folder in (scratch, first_logs, second_logs):
        folder.mkdir()
    metadata = run / "checkpoints" / "phase1" / "training_metadata.json"

    workers = _start_workers(config, scratch, first_logs)
    deadline = time.time() + 300
    while time.time() < deadline and all(w.poll() is None for w in workers):
        try:
            if json.loads(metadata.read_text())["epoch"] >= 1:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    assert all(w.poll() is None for w in workers), (first_logs / "worker0.log").read_text()[-3000:]
    for worker in workers:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    first_pids = [w.pid for w in workers]
    done = json.loads(metadata.read_text())["epoch"]
    assert not (run / "model.keras").exists()

    workers = _start_workers(config, scratch, second_logs)
    chief, other = _finish(workers, second_logs)
    assert [w.returncode for w in workers] == [0, 0], chief[-3000:] + other[-3000:]
    assert "multi_worker: 2 replicas" in chief and "phase 1: resuming" in chief
    # Phase 1 continued where it stopped; phase 2 then ran its one epoch (and not from phase 1's restored epoch).
    expected = [(str(e), str(epochs)) for e in range(done + 1, epochs + 1)] + [(str(epochs + 1), str(epochs + 1))]
    assert re.findall(r"^Epoch (\d+)/(\d+)", chief, re.M) == expected
    # Every worker computed the same synchronized numbers, epoch by epoch.
    epoch_logs = [re.findall(r"^\S+ - .*loss: .*$", text, re.M) for text in (chief, other)]
    assert epoch_logs[0] and [_numbers(line) for line in epoch_logs[0]] == [_numbers(line) for line in epoch_logs[1]]
    assert "worker worker1 finished; the chief writes" in other

    rows = history(run)
    assert sorted({int(r["epoch"]) for r in rows}) == list(range(epochs + 1))
    for name in ("model.keras", "metrics.json", "report.md", "report.html"):
        assert (run / name).is_file(), name
    # Only the chief wrote the run folder: every TensorBoard file there comes from a chief process.
    writers = {int(p.name.split(".")[-3]) for p in (run / "tensorboard").rglob("events.out.tfevents.*")}
    assert writers and writers <= {first_pids[0], workers[0].pid}
    assert not list(scratch.glob("keras_tl-worker-*"))  # the non-chief's scratch folder is gone once it finished


def _numbers(line: str) -> list[str]:
    """The metric values of a Keras epoch line (its timings differ between workers)."""
    return re.findall(r"(\w+): ([\d.]+)", line)
