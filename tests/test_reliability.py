"""Bad inputs of every kind end in a conversion, a quarantine-and-list, or one line on stderr: never a traceback,
never a silent drop. Each case is recorded with the ``bad_input`` fixture (tests/support/bad_inputs.py)."""

import os
import subprocess
import sys
import textwrap

import keras
import pytest
from PIL import Image

from tests.helpers import draw_shape, make_image_folder
from tests.support.bad_inputs import expect_error, run_cli
from tests.support.files import make_messy_folder, write_config


def expect_in_report(capsys, bad_input, case, fragment, folder):
    code, out, err = run_cli(capsys, "data", "check", folder)
    assert fragment in out, (case, out)
    bad_input(case, "listed by data check")


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    root = make_messy_folder(tmp_path_factory.mktemp("rel") / "messy")
    (root / "odd" / "loop").symlink_to(root / "odd", target_is_directory=True)
    (root / "odd" / "dangling.png").symlink_to(root / "nowhere.png")
    (root / "odd" / ".hidden_dir").mkdir()
    return root


@pytest.mark.parametrize("case,fragment", [
    ("truncated JPEG", "quarantined odd/truncated.jpg: truncated image"),
    ("0-byte file", "quarantined odd/empty.jpg: empty file (0 bytes)"),
    ("non-image with an image extension", "quarantined odd/not_an_image.png: not a readable image"),
    ("PNG with alpha", "converted   odd/alpha.png: mode RGBA"),
    ("palette PNG", "converted   odd/palette.png: mode P"),
    ("CMYK JPEG", "converted   odd/cmyk.jpg: mode CMYK"),
    ("16-bit PNG", "converted   odd/deep16.png: mode I;16"),
    ("EXIF-rotated photo", "converted   odd/rotated.jpg: EXIF orientation"),
    ("WebP", "converted   odd/photo.webp: WEBP format"),
    ("symlink loop", "ignored     odd/loop: symlink loop"),
    ("broken symlink", "ignored     odd/dangling.png: broken symlink"),
    (".DS_Store", "ignored     odd/.DS_Store: hidden file"),
    ("hidden folder", "ignored     odd/.hidden_dir: hidden folder"),
    ("other extension", "ignored     odd/notes.csv: not an image extension"),
    ("file outside class folders", "ignored     README.md: file at the top level"),
])
def test_bad_files_are_converted_or_listed(capsys, bad_input, messy, case, fragment):
    expect_in_report(capsys, bad_input, case, fragment, messy)


def test_grayscale_is_used_as_is(capsys, messy, bad_input):
    code, out, _ = run_cli(capsys, "data", "check", messy)
    assert "odd/gray.png" not in out and "usable images per class: good 2, odd 7" in out
    bad_input("grayscale", "used as is")


def test_huge_image_is_shrunk_with_bounded_memory(tmp_path, capsys, bad_input):
    root = tmp_path / "huge"
    (root / "big").mkdir(parents=True)
    Image.new("RGB", (12000, 12000), (30, 120, 200)).save(root / "big" / "huge.jpg", quality=80)
    (root / "small").mkdir()
    draw_shape("circle", (0, 0, 0), 32).save(root / "small" / "ok.png")
    script = textwrap.dedent(f"""
        import resource, sys
        from keras_tl.data.scan import scan
        from keras_tl.data.sources import list_source
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report = scan(list_source({str(root)!r}), __import__("pathlib").Path({str(tmp_path / "conv")!r}), workers=2)
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(report.converted[0]["reason"], round(grown_mb))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ})
    reason, grown_mb = result.stdout.strip().rsplit(" ", 1)
    assert "larger than 2048px" in reason
    assert int(grown_mb) < 150  # a full decode would need 432 MB; DCT-domain downscaling keeps it small
    converted = next((tmp_path / "conv").iterdir())
    assert max(Image.open(converted).size) == 2048
    bad_input("12000x12000 image", "converted, bounded memory")


def test_manifest_problems(tmp_path, capsys, bad_input):
    images = tmp_path / "m"
    images.mkdir()
    for i in range(3):
        draw_shape("square", (0, 200, 0), 32, seed=i).save(images / f"{i}.png")
    (images / "rows.csv").write_text("image,label\n0.png,a\n1.png,b\nmissing.png,a\n")
    code, out, _ = run_cli(capsys, "data", "check", images / "rows.csv")
    assert "quarantined missing.png: unreadable (No such file or directory)" in out
    bad_input("manifest row pointing to a missing file", "quarantined and listed")
    (images / "escape.csv").write_text("image,label\n../../etc/passwd,a\n")
    expect_error(capsys, bad_input, "manifest path escaping its root", "outside the manifest's folder", "data", "check",
                 images / "escape.csv")
    (images / "broken.jsonl").write_text('{"image": "0.png", "label": "a"}\nnot json\n')
    expect_error(capsys, bad_input, "manifest with a broken JSON line", "broken.jsonl:2: not valid JSON", "data", "check",
                 images / "broken.jsonl")
    (images / "cols.csv").write_text("path,label\n0.png,a\n")
    expect_error(capsys, bad_input, "manifest without an image column", "no 'image' column", "data", "check", images / "cols.csv")
    expect_error(capsys, bad_input, "missing data source", "data source not found", "data", "check", tmp_path / "nope")
    (tmp_path / "flat").mkdir()
    expect_error(capsys, bad_input, "folder without class folders", "no class sub-folders", "data", "check", tmp_path / "flat")


def test_duplicates_are_reported_as_leakage_risk(tmp_path, capsys, bad_input):
    root = make_image_folder(tmp_path / "dups", per_class=3)
    (root / "square" / "copy.png").write_bytes(next((root / "circle").glob("*.png")).read_bytes())
    code, out, _ = run_cli(capsys, "data", "check", root)
    assert "duplicate   identical files (kept in one split): circle/" in out and "square/copy.png" in out
    bad_input("duplicate file across classes", "reported, kept in one split")


def test_training_data_edge_cases(tmp_path, capsys, config_factory, bad_input):
    root = tmp_path / "labels"
    for name, n in (("café au lait", 6), ("naïve bird", 6), ("solo", 1)):
        (root / name).mkdir(parents=True)
        for i in range(n):
            draw_shape("circle", (20 * i, 100, 200), 40, seed=len(name) * 100 + i).save(root / name / f"{i}.png")
    config = config_factory(name="unicode", data={"source": str(root), "val_fraction": 0.2, "test_fraction": 0.2},
                            train={"phase2": {"epochs": 0}})
    code, out, err = run_cli(capsys, "train", write_config(tmp_path / "u.yaml", config))
    assert code == 0, err
    run = tmp_path / "runs" / "unicode"
    assert (run / "labels.txt").read_text(encoding="utf-8").splitlines() == ["café au lait", "naïve bird", "solo"]
    assert "warning: val split has no image of: solo" in out
    bad_input("labels with unicode and spaces", "trained")
    bad_input("class with one image", "trained, warned")
    (root / "empty class").mkdir()
    (root / "empty class" / "bad.jpg").write_bytes(b"\xff\xd8\xff")
    config = config_factory(name="empty", data={"source": str(root)})
    expect_error(capsys, bad_input, "class with zero usable images", "class 'empty class' has no usable images (1 quarantined)",
                 "train", write_config(tmp_path / "e.yaml", config))
    one = tmp_path / "one"
    make_image_folder(one, per_class=2)
    for extra in ("square", "triangle"):
        for f in (one / extra).iterdir():
            f.unlink()
        (one / extra).rmdir()
    expect_error(capsys, bad_input, "a single class", "a classifier needs at least 2", "train",
                 write_config(tmp_path / "o.yaml", config_factory(name="one", data={"source": str(one)})))


def test_bad_config_and_cli(tmp_path, capsys, config_factory, base_weights, bad_input):
    good = config_factory(name="cfg")
    path = write_config(tmp_path / "good.yaml", good)
    text = path.read_text()

    def variant(name, old, new):
        p = tmp_path / f"{name}.yaml"
        p.write_text(text.replace(old, new, 1))
        return p

    expect_error(capsys, bad_input, "unknown key", "did you mean 'model.dropout'", "train",
                 variant("typo", "dropout:", "droput:"))
    expect_error(capsys, bad_input, "wrong type", "config key 'data.batch_size'", "train",
                 variant("type", "batch_size: 8", "batch_size: eight"))
    expect_error(capsys, bad_input, "unknown backbone", "did you mean 'mobilenetv2'", "train",
                 variant("backbone", "backbone: mobilenetv2", "backbone: mobilenet_v22"))
    expect_error(capsys, bad_input, "input size too small", "needs at least 32px", "train",
                 variant("small", "input_size: 32", "input_size: 16"))
    expect_error(capsys, bad_input, "weights file missing", "model.weights file not found", "train",
                 variant("noweights", str(base_weights), str(tmp_path / "absent.keras")))
    wider = keras.applications.MobileNetV2(include_top=False, weights=None, alpha=0.5, input_shape=(32, 32, 3))
    wider.save_weights(tmp_path / "wider.weights.h5")
    expect_error(capsys, bad_input, "weights of another shape", "expects weights (", "train",
                 variant("mismatch", str(base_weights), str(tmp_path / "wider.weights.h5")))
    (tmp_path / "afile").write_text("x")
    expect_error(capsys, bad_input, "output dir not writable", "cannot write to run folder", "train", path,
                 "-o", f"output_dir={tmp_path / 'afile'}")
    expect_error(capsys, bad_input, "YAML object tag", "not valid YAML", "train",
                 variant("tag", "name: cfg", "name: !!python/object/apply:os.system ['true']"))
    expect_error(capsys, bad_input, "config file missing", "config file not found", "train", tmp_path / "none.yaml")
    expect_error(capsys, bad_input, "bad override", "section.key=value", "train", path, "-o", "train.phase1.epochs")
    expect_error(capsys, bad_input, "evaluate a folder that is no run", "not a keras-tl run folder", "evaluate", tmp_path)
    expect_error(capsys, bad_input, "predict with a missing model", "model not found", "predict", tmp_path / "x.keras",
                 tmp_path / "good.yaml")


def test_run_folder_of_another_experiment_is_refused(tmp_path, capsys, config_factory, bad_input):
    config = config_factory(name="mine", train={"phase1": {"epochs": 0}, "phase2": {"epochs": 0}})
    path = write_config(tmp_path / "mine.yaml", config)
    assert run_cli(capsys, "train", path)[0] == 0
    expect_error(capsys, bad_input, "run folder holds another experiment", "holds a different experiment", "train", path,
                 "-o", "train.phase1.learning_rate=0.5")
    expect_error(capsys, bad_input, "rerun with another seed (other splits)", "cannot continue with seed changed",
                 "train", path, "-o", "seed=1", "--resume")


def test_unsafe_and_corrupt_model_files(tmp_path, capsys, image_folder, bad_input):
    inputs = keras.Input((32, 32, 3))
    evil = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    evil.save(tmp_path / "evil.keras")
    image = next((image_folder / "circle").glob("*.png"))
    expect_error(capsys, bad_input, "model file that would run code", "cannot load model", "predict", tmp_path / "evil.keras",
                 image)
    (tmp_path / "corrupt.keras").write_bytes(b"PK\x03\x04 definitely not a model")
    expect_error(capsys, bad_input, "corrupt model file", "cannot load model", "predict", tmp_path / "corrupt.keras", image)


@pytest.mark.slow
def test_disk_full_while_writing_checkpoints_is_reported(tmp_path, config_factory, bad_input):
    path = write_config(tmp_path / "full.yaml", config_factory(name="full"))
    # A file-size limit makes every larger write fail like a full disk; small files (config, splits) still fit.
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))
        from keras_tl.cli.main import main
        sys.exit(main(["train", {str(path)!r}]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: writing to ") and "free some space, then rerun the same command" in last
    bad_input("disk full while writing a checkpoint", "one-line error")
