"""The run folder never loses data: it may not overlap its data source, deletes only what keras_tl wrote, and a
rerun either does what its config.yaml says or refuses in one line (changed settings, changed data, killed
writes, read-only folders, no validation split, interrupted epochs)."""

import contextlib
import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import NO_AUGMENT, draw_shape, make_image_folder, tiny_config
from tests.support.bad_inputs import expect_error, run_cli
from tests.support.files import write_config


def snapshot(folder: Path) -> dict[str, str]:
    """Every file (by content) and folder below ``folder``: equal snapshots mean nothing changed, nothing added."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def history_epochs(run_dir: Path) -> list[int]:
    with (run_dir / "history.csv").open(newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "keras_tl", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})


# -- the run folder and the data source -------------------------------------------------------------------------

def refused_untouched(capsys, bad_input, case, data_root: Path, fragment: str, config) -> None:
    path = write_config(data_root.parent / f"{case.replace(' ', '_')}.yaml", config)
    before = snapshot(data_root)
    line = expect_error(capsys, lambda *_: None, case, fragment, "train", path)  # recorded below, once
    assert "output_dir" in line and str(data_root.resolve()) in line, line
    assert snapshot(data_root) == before, case
    bad_input(case, "refused before any work, no file touched")


def test_run_folder_equal_to_the_data_folder(tmp_path, capsys, bad_input):
    # plants.yaml beside plants/ with output_dir "." : output_dir/name is the image folder itself.
    plants = make_image_folder(tmp_path / "plants", per_class=4)
    config = tiny_config(tmp_path, plants, "none", name="plants")
    refused_untouched(capsys, bad_input, "run folder equal to the data folder", plants, "is the data folder", config)
    # the same command again (the user found nothing to remove): still refused, still intact
    refused_untouched(capsys, bad_input, "rerun with the run folder equal to the data folder", plants,
                      "is the data folder", config)


def test_run_folder_inside_or_around_the_data(tmp_path, capsys, bad_input):
    plants = make_image_folder(tmp_path / "plants", per_class=4)
    refused_untouched(capsys, bad_input, "run folder inside the data folder", plants, "is inside the data folder",
                      tiny_config(plants, plants, "none", name="run"))
    inner = make_image_folder(tmp_path / "runs" / "exp" / "images", per_class=4)
    refused_untouched(capsys, bad_input, "data folder inside the run folder", inner, "contains the data folder",
                      tiny_config(tmp_path / "runs", inner, "none", name="exp"))
    (tmp_path / "link").symlink_to(tmp_path, target_is_directory=True)
    refused_untouched(capsys, bad_input, "run folder equal to the data folder through a symlink", plants,
                      "is the data folder", tiny_config(tmp_path / "link", plants, "none", name="plants"))


def test_run_folder_inside_a_manifests_folder(tmp_path, capsys, bad_input):
    root = tmp_path / "set"
    make_image_folder(root / "images", per_class=3)
    rows = ["image,label"] + [f"images/{p.parent.name}/{p.name},{p.parent.name}"
                              for p in sorted((root / "images").rglob("*.*"))]
    manifest = root / "labels.csv"
    manifest.write_text("\n".join(rows) + "\n")
    refused_untouched(capsys, bad_input, "run folder inside the manifest's folder", root, "is inside the data folder",
                      tiny_config(root, manifest, "none", name="run"))


def test_overwrite_and_retry_delete_only_what_keras_tl_wrote(tmp_path, capsys, bad_input):
    one_class = tmp_path / "one"
    (one_class / "only").mkdir(parents=True)
    draw_shape("circle", (200, 0, 0), 40).save(one_class / "only" / "a.png")  # fails after the folder is claimed
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.png").write_bytes(b"user data")
    config = tiny_config(tmp_path / "runs", one_class, "none", name="exp")
    path = write_config(tmp_path / "exp.yaml", config)
    run = tmp_path / "runs" / "exp"
    for args, case in ((["--overwrite"], "--overwrite on a run folder holding foreign files"),
                       ([], "retry of a failed attempt in a folder holding foreign files")):
        run.mkdir(parents=True, exist_ok=True)
        write_config(run / "config.yaml", config)
        if args:
            (run / "history.csv").write_text("epoch,loss\n0,1.0\n")
            (run / "model.keras").write_bytes(b"old model")
        (run / "labels.txt").write_text("old\n")
        (run / "notes.txt").write_text("mine")
        (run / "photos").mkdir(exist_ok=True)
        (run / "photos" / "cat.png").write_bytes(b"cat")
        if not (run / "data").exists():
            (run / "data").symlink_to(outside, target_is_directory=True)  # keras_tl's name, the user's files
        foreign = {"notes.txt": snapshot(run)["notes.txt"], "photos/cat.png": snapshot(run)["photos/cat.png"]}
        before_outside = snapshot(outside)
        code, out, err = run_cli(capsys, "train", path, *args)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        after = snapshot(run)
        assert {k: after.get(k) for k in foreign} == foreign, case
        assert not {"history.csv", "model.keras", "labels.txt"} & set(after), after
        assert snapshot(outside) == before_outside and not (run / "data").is_symlink()
        assert "note:" in out and "notes.txt" in out and "photos" in out, out
        bad_input(case, "only keras_tl's own files removed, the rest named in a note")


def test_export_cleanup_removes_only_its_own_staged_files(tmp_path, bad_input):
    from keras_tl.export.artifacts import remove_leftovers

    (tmp_path / "model_fp32.tflite.partial").write_bytes(b"staged")
    (tmp_path / "model_mine.partial").write_bytes(b"user file")
    remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_mine.partial"]
    bad_input("export cleanup next to a user file named like a staged one", "user file kept")


# -- reruns: settings and data that changed ---------------------------------------------------------------------

@pytest.mark.slow
def test_rerun_refuses_changed_data_and_resume_runs_more_epochs(tmp_path, capsys, bad_input, base_weights):
    shapes = make_image_folder(tmp_path / "shapes", per_class=6)
    other = make_image_folder(tmp_path / "other", per_class=6)
    config = tiny_config(tmp_path / "runs", shapes, base_weights, name="grow", data=NO_AUGMENT,
                         train={"phase1": {"epochs": 1}, "phase2": {"epochs": 1}})
    path = write_config(tmp_path / "grow.yaml", config)
    run = tmp_path / "runs" / "grow"
    assert run_cli(capsys, "train", path)[0] == 0
    trained = snapshot(run)

    expect_error(capsys, bad_input, "--resume with another data.source", "--overwrite", "train", path, "--resume",
                 "-o", f"data.source={other}")
    expect_error(capsys, bad_input, "--resume with another split fraction", "-o name=NEW", "train", path, "--resume",
                 "-o", "data.test_fraction=0.3")
    for i in range(3):
        draw_shape("circle", (220, 40, 40), 40, seed=500 + i).save(shapes / "circle" / f"new_{i}.png")
    line = expect_error(capsys, bad_input, "images added since the scan", "3 images added, 0 removed", "train", path)
    assert "data source changed since this run was scanned" in line and "--overwrite" in line
    for i in range(3):
        (shapes / "circle" / f"new_{i}.png").unlink()
    gone = sorted((shapes / "square").iterdir())[:2]
    for image in gone:
        image.rename(tmp_path / image.name)
    expect_error(capsys, bad_input, "images removed since the scan", "0 images added, 2 removed", "train", path)
    for image in gone:
        (tmp_path / image.name).rename(image)
    assert snapshot(run) == trained  # every refusal came before any write

    code, out, _ = run_cli(capsys, "train", path, "--resume", "-o", "train.phase2.epochs=2")
    assert code == 0 and "phase 2: already finished" not in out, out
    assert history_epochs(run) == [0, 1, 2]  # the extra epoch ran, once
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["phase2"]["epochs"] == 2
    bad_input("--resume with more phase-2 epochs", "the extra epoch runs")
    expect_error(capsys, bad_input, "--resume with fewer epochs than already ran", "already ran 2 epochs", "train",
                 path, "--resume")
    code, out, _ = run_cli(capsys, "train", path, "-o", "train.phase2.epochs=2")  # unchanged: as before
    assert code == 0 and out.count("already finished") == 2 and history_epochs(run) == [0, 1, 2], out
    lines = out.strip().splitlines()
    assert lines[-1] == str(run) and lines[-2] == f"report: {run / 'report.html'}"
    bad_input("finished run rerun with unchanged data", "resumes, nothing retrained, report path printed")


# -- interrupted writes ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_rerun_after_a_kill_during_the_disk_cache_write(tmp_path, bad_input, base_weights):
    many = make_image_folder(tmp_path / "many", per_class=100, size=64)
    config = tiny_config(tmp_path / "runs", many, base_weights, name="cached",
                         data={"cache": "disk", "cache_dir": str(tmp_path / "cache"), "val_fraction": 0.1,
                               "test_fraction": 0.1},
                         train={"phase1": {"epochs": 1}, "phase2": {"epochs": 0}, "cache_features": "off"})
    path = write_config(tmp_path / "cached.yaml", config)
    cache_dir = tmp_path / "cache"  # shared across runs, so a new attempt does not clear it with the run folder
    proc = subprocess.Popen([sys.executable, "-m", "keras_tl", "train", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not list(cache_dir.glob("*.lockfile")):
        time.sleep(0.002)
    assert proc.poll() is None, "training ended before its cache was being written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(cache_dir.glob("*.lockfile")), "killed after the cache was complete"
    result = cli("train", path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "runs" / "cached" / "model.keras").is_file()
    bad_input("kill -9 while the disk cache is written", "the rerun works the first time")


@pytest.mark.slow
def test_interrupt_then_resume_logs_each_epoch_once(tmp_path, bad_input, base_weights, image_folder):
    config = tiny_config(tmp_path / "runs", image_folder, base_weights, name="sigint",
                         train={"phase1": {"epochs": 6}, "phase2": {"epochs": 0}, "cache_features": "off",
                                "verbose": 2})
    path = write_config(tmp_path / "sigint.yaml", config)
    run = tmp_path / "runs" / "sigint"
    metadata = run / "checkpoints" / "phase1" / "training_metadata.json"
    for attempt in range(4):  # the interrupt must land after epoch 0's history row and before its backup
        proc = subprocess.Popen([sys.executable, "-m", "keras_tl", "train", str(path), "--overwrite"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        history = run / "history.csv"
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if history.is_file() and len(history.read_text().splitlines()) >= 2:
                break
            time.sleep(0.001)
        os.kill(proc.pid, signal.SIGINT)
        err = proc.communicate(timeout=120)[1]
        assert proc.returncode == 130 or "interrupted" in err, err[-2000:]
        if not metadata.is_file():
            break
    else:
        pytest.skip("the interrupt never landed between the history row and the backup")
    result = cli("train", path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert history_epochs(run) == list(range(6))
    bad_input("SIGINT in phase 1, then rerun", "history.csv has one row per epoch")


# -- read-only run folders ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` made read-only for root too: a read-only bind mount, else the immutable flag (ext4)."""
    def ok(*command) -> bool:
        return subprocess.run(command, capture_output=True).returncode == 0

    undo = None
    if ok("mount", "--bind", folder, folder):
        if ok("mount", "-o", "remount,ro,bind", folder):
            undo = lambda: ok("umount", folder)  # noqa: E731
        else:
            ok("umount", folder)
    if undo is None and ok("chattr", "-R", "+i", folder):
        undo = lambda: ok("chattr", "-R", "-i", folder)  # noqa: E731
    if undo is None:
        pytest.skip("cannot make a folder read-only for root here (no bind mount, no chattr +i)")
    try:
        with contextlib.suppress(OSError):
            (folder / "probe").write_text("")
            (folder / "probe").unlink()
            pytest.skip("the read-only folder still accepts writes")
        yield folder
    finally:
        undo()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, base_weights, image_folder):
    import keras_tl

    root = tmp_path_factory.mktemp("trained")
    config = tiny_config(root / "runs", image_folder, base_weights, name="done", data=NO_AUGMENT,
                         train={"phase1": {"epochs": 1}, "phase2": {"epochs": 0}})
    return keras_tl.train_model(config, log=lambda *_: None).path


@pytest.mark.slow
def test_evaluate_and_report_on_a_read_only_run_folder(tmp_path, capsys, bad_input, trained_run):
    copy = Path(shutil.copytree(trained_run, tmp_path / "done"))
    before = snapshot(copy)
    with read_only(copy):
        code, out, err = run_cli(capsys, "evaluate", copy, "--split", "val")
        assert code == 0 and "accuracy" in out and "read-only" in out and "not saved" in out, out + err
        bad_input("evaluate on a read-only run folder", "metrics printed, says they were not saved")
        expect_error(capsys, bad_input, "report on a read-only run folder",
                     "it is read-only; copy it or make it writable", "report", copy)
    assert snapshot(copy) == before


# -- no validation split -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_no_validation_split_falls_back_to_the_training_metric(tmp_path, capsys, bad_input, base_weights,
                                                               image_folder):
    config = tiny_config(tmp_path / "runs", image_folder, base_weights, name="noval", data={"val_fraction": 0},
                         train={"phase1": {"epochs": 2}, "phase2": {"epochs": 0}, "monitor": "val_accuracy"})
    code, out, _ = run_cli(capsys, "train", write_config(tmp_path / "noval.yaml", config))
    assert code == 0 and out.count("note: there is no validation split") == 1, out
    assert "training accuracy" in out
    run = tmp_path / "runs" / "noval"
    assert any((run / "checkpoints").glob("phase1*.best.weights.h5"))  # checkpointed on the training metric
    bad_input("data.val_fraction 0 with monitor val_accuracy", "falls back to accuracy with one note")


@pytest.mark.slow
def test_manifest_without_val_rows_and_monitor_loss(tmp_path, capsys, bad_input, base_weights):
    root = make_image_folder(tmp_path / "set" / "images", per_class=8).parent
    rows = ["image,label,split"]
    for i, image in enumerate(sorted((root / "images").rglob("*.*"))):
        rows.append(f"images/{image.parent.name}/{image.name},{image.parent.name},{'test' if i % 4 == 0 else 'train'}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    # A learning rate of ~0 leaves the loss flat: early stopping (patience 1) on the training loss must stop.
    # data.val_fraction stays at 0.2: it only splits rows without a split of their own, and here there are none.
    config = tiny_config(tmp_path / "runs", root / "labels.csv", base_weights, name="fixed",
                         train={"phase1": {"epochs": 8, "learning_rate": 1e-12}, "phase2": {"epochs": 0},
                                "monitor": "loss", "early_stopping_patience": 1})
    code, out, _ = run_cli(capsys, "train", write_config(tmp_path / "fixed.yaml", config))
    assert code == 0 and "note: there is no validation split" not in out, out
    run = tmp_path / "runs" / "fixed"
    assert len(history_epochs(run)) < 8  # early stopping worked without a validation split
    assert json.loads((run / "metrics.json").read_text())["test"]["samples"] > 0
    bad_input("manifest split column without val rows, monitor loss", "trains, early-stops on the training loss")
