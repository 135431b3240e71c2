"""Data sources that users really have: manifests saved by Excel, JSONL with numbers and lists as labels, repeated
rows, and class or file names that must survive every file a run saves (splits, labels.txt, predictions CSV).
Each case is recorded with the ``bad_input`` fixture (tests/support/bad_inputs.py)."""

import json
import os

import pytest

from keras_tl.data import load_split
from keras_tl.run_files import read_predictions
from keras_tl.run import RunFolder
from tests.helpers import draw_shape, make_image_folder
from tests.support.bad_inputs import expect_error, run_cli
from tests.support.files import write_config


def images_with_manifest(root, name, text, n=4):
    """``n`` small PNGs (0.png ...) next to a manifest ``name`` holding ``text``."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        draw_shape("circle" if i % 2 else "square", (40 * i, 100, 200), 32, seed=i).save(root / f"{i}.png")
    manifest = root / name
    manifest.write_text(text, encoding="utf-8")
    return manifest


def jsonl(*rows):
    return "".join(json.dumps(row) + "\n" for row in rows)


def check(capsys, source, *overrides):
    return run_cli(capsys, "data", "check", source, *(a for o in overrides for a in ("-o", o)))


# -- manifests: encodings and label types ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rows.csv", "rows.jsonl"])
def test_manifest_with_a_byte_order_mark_is_read(tmp_path, capsys, bad_input, name):
    body = "label,image\na,0.png\nb,1.png\n" if name.endswith(".csv") else jsonl(
        {"image": "0.png", "label": "a"}, {"image": "1.png", "label": "b"})
    manifest = images_with_manifest(tmp_path, name, "\ufeff" + body)
    code, out, _ = check(capsys, manifest)
    assert code == 0 and "usable images per class: a 1, b 1" in out, out
    bad_input(f"{name[5:].upper()} with a UTF-8 BOM", "read")


def test_jsonl_numbers_are_labels_and_null_is_missing(tmp_path, capsys, bad_input):
    manifest = images_with_manifest(tmp_path, "rows.jsonl", jsonl(
        {"image": "0.png", "label": 0}, {"image": "1.png", "label": 1}, {"image": "2.png", "label": "1"},
        {"image": "3.png", "label": None}))
    code, out, _ = check(capsys, manifest)
    assert code == 0 and "usable images per class: 0 1, 1 2" in out, out
    ignored = [line for line in out.splitlines() if "row without label" in line]
    assert ignored == ["  ignored     rows.jsonl:4: row without label"] and "None" not in out, out
    bad_input("JSONL label 0 (a number)", "read as the label '0'")
    bad_input("JSONL label null", "ignored as a row without label, listed")


def test_jsonl_list_labels_need_multi_label(tmp_path, capsys, bad_input):
    manifest = images_with_manifest(tmp_path, "rows.jsonl", jsonl(
        {"image": "0.png", "label": "square"}, {"image": "1.png", "label": ["circle"]},
        {"image": "2.png", "label": ["circle", "square"]}))
    expect_error(capsys, bad_input, "JSONL label list without multi_label",
                 "rows.jsonl:2: label is a list, but model.multi_label is off", "data", "check", manifest)
    code, out, _ = check(capsys, manifest, "model.multi_label=true")
    assert code == 0 and "usable images per class: circle 2, square 2" in out and "['" not in out, out
    bad_input("JSONL label list with multi_label", "read as those labels")


@pytest.mark.parametrize("case,label,fragment", [
    ("JSONL label true", True, "rows.jsonl:2: label must be text or a whole number"),
    ("JSONL label object", {"name": "a"}, "rows.jsonl:2: label must be text or a whole number"),
    ("JSONL label 1.5", 1.5, "got 1.5"),
])
def test_jsonl_labels_of_other_types_are_refused(tmp_path, capsys, bad_input, case, label, fragment):
    manifest = images_with_manifest(tmp_path, "rows.jsonl", jsonl(
        {"image": "0.png", "label": "a"}, {"image": "1.png", "label": label}))
    expect_error(capsys, bad_input, case, fragment, "data", "check", manifest)


# -- repeated rows -------------------------------------------------------------------------------------------------

def test_exact_duplicate_rows_are_counted_once_with_a_warning(tmp_path, capsys, bad_input):
    manifest = images_with_manifest(tmp_path, "rows.csv",
                                    "image,label\n0.png,a\n1.png,b\n0.png,a\n./1.png,b\n2.png,a\n0.png,a\n")
    code, out, _ = check(capsys, manifest)
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert code == 0 and "usable images per class: a 2, b 1" in out, out
    assert len(warnings) == 1 and "3 duplicate manifest rows" in warnings[0], out
    assert "rows.csv:4 repeats rows.csv:2" in warnings[0] and "rows.csv:5 repeats rows.csv:3" in warnings[0]
    bad_input("duplicate manifest rows", "one warning, counted once")


def test_one_image_with_two_labels_is_refused(tmp_path, capsys, bad_input):
    manifest = images_with_manifest(tmp_path, "rows.csv", "image,label\n0.png,a\n1.png,b\n2.png,a\n3.png,b\n"
                                                          "1.png,b\n0.png,b\n")
    expect_error(capsys, bad_input, "one image listed with two labels",
                 "rows.csv:2 and rows.csv:7 give 0.png two labels ('a', 'b')", "data", "check", manifest)


def test_questions_about_one_picture_are_no_duplicates(tmp_path, capsys, bad_input):
    rows = ("image,label,text\n0.png,yes,is it round?\n0.png,no,is it square?\n0.png,yes,is it red?\n"
            "1.png,no,is it round?\n1.png,yes,is it square?\n")
    manifest = images_with_manifest(tmp_path, "rows.csv", rows)
    code, out, _ = check(capsys, manifest)
    assert code == 0 and "warning" not in out and "usable images per class: no 2, yes 3" in out, out
    bad_input("one image with different answers to different questions", "kept, no warning")
    (tmp_path / "rows.csv").write_text(rows + "0.png,no,is it red?\n", encoding="utf-8")
    expect_error(capsys, bad_input, "one question about one image with two answers",
                 "rows.csv:4 and rows.csv:7 give 0.png two labels ('yes', 'no') for the same text",
                 "data", "check", manifest)


# -- names that cannot be saved are refused up front ------------------------------------------------------------

def three_classes(root, *names):
    for name in names:
        (root / name).mkdir(parents=True)
        for i in range(2):
            draw_shape("circle", (0, 90 * i, 200), 32, seed=i).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("case,folder,fragment", [
    ("class folder with a newline", "a\nb", "class folder 'a\\nb' contains the control character '\\n'"),
    ("class folder with a tab", "a\tb", "class folder 'a\\tb' contains the control character '\\t'"),
    ("class folder with a line separator", "a\u2028b", "contains the control character '\\u2028'"),
    ("class folder with a blank name", "   ", "class folder '   ' is blank"),
])
def test_class_names_that_labels_txt_cannot_hold_are_refused(tmp_path, capsys, config_factory, bad_input, case,
                                                             folder, fragment):
    root = three_classes(tmp_path / "d", "circle", "square", folder)
    config = write_config(tmp_path / "c.yaml", config_factory(
        name="names", data={"source": str(root), "val_fraction": 0.0, "test_fraction": 0.0},
        train={"phase1": {"epochs": 1}, "phase2": {"epochs": 0}}))
    expect_error(capsys, bad_input, case, fragment, "train", config)
    assert not (tmp_path / "runs" / "names" / "labels.txt").exists()


def test_quoted_csv_label_with_a_newline_is_refused(tmp_path, capsys, bad_input):
    manifest = images_with_manifest(tmp_path, "rows.csv", 'image,label\n0.png,a\n1.png,"a\nb"\n2.png,c\n')
    expect_error(capsys, bad_input, "quoted CSV label with a newline",
                 "rows.csv:3: label 'a\\nb' contains the control character '\\n'", "data", "check", manifest)


def test_multi_label_folder_name_holding_the_separator_is_refused(tmp_path, capsys, bad_input):
    root = three_classes(tmp_path / "d", "cat", "dog|pet")
    expect_error(capsys, bad_input, "multi-label class folder holding the separator",
                 "class folder 'dog|pet' contains data.label_separator '|'", "data", "check", root,
                 "-o", "model.multi_label=true")


def test_file_name_that_is_not_utf8_is_listed_not_used(tmp_path, capsys, bad_input):
    root = three_classes(tmp_path / "d", "circle", "square")
    os.close(os.open(os.path.join(os.fsencode(root / "circle"), b"caf\xe9.png"), os.O_CREAT | os.O_WRONLY))
    code, out, _ = check(capsys, root)
    assert code == 0 and "ignored     circle/caf?.png: file name is not valid UTF-8" in out, out
    assert "usable images per class: circle 2, square 2" in out
    bad_input("file name that is not UTF-8", "ignored, listed")


# -- data check says what train would refuse --------------------------------------------------------------------

def test_data_check_warns_about_a_single_class(tmp_path, capsys, bad_input):
    root = three_classes(tmp_path / "d", "only")
    code, out, _ = check(capsys, root)
    assert code == 1 and "warning: found 1 class; a classifier needs at least 2" in out, out
    bad_input("data check on a single class", "warning, exit 1")


def test_data_check_warns_about_a_class_without_usable_images(tmp_path, capsys, bad_input):
    root = three_classes(tmp_path / "d", "circle", "square")
    (root / "empty").mkdir()
    (root / "empty" / "bad.jpg").write_bytes(b"\xff\xd8\xff")
    code, out, _ = check(capsys, root)
    assert code == 1 and "warning: class 'empty' has no usable images (1 quarantined)" in out, out
    assert "usable images per class: circle 2, empty 0, square 2" in out
    bad_input("data check on a class with zero usable images", "warning, exit 1")


def test_split_files_of_earlier_versions_are_still_read(tmp_path, bad_input):
    (tmp_path / "train.txt").write_text('circle/0.png\tcircle\ncircle/1.png\ta|b\t"a \\"text\\""\n',
                                        encoding="utf-8")
    samples = load_split(tmp_path, "train")
    assert [(s.path, s.labels, s.text) for s in samples] == [
        ("circle/0.png", ("circle",), None), ("circle/1.png", ("a", "b"), 'a "text"')]
    (tmp_path / "val.txt").write_text("just one field\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"val.txt:1: not a line of a split file"):
        load_split(tmp_path, "val")
    bad_input("split file written by an earlier version", "read")
    bad_input("split file with a broken line", "one-line error")


# -- names that must round-trip through every saved file (these train) ------------------------------------------

def trained_and_evaluated(capsys, tmp_path, config_factory, source, name):
    config = config_factory(name=name, data={"source": str(source), "val_fraction": 0.25, "test_fraction": 0.25},
                            train={"phase1": {"epochs": 1}, "phase2": {"epochs": 0}})
    code, out, err = run_cli(capsys, "train", write_config(tmp_path / f"{name}.yaml", config))
    assert code == 0, err[-2000:]
    run = RunFolder(tmp_path / "runs" / name)
    code, _, err = run_cli(capsys, "evaluate", run.path)
    assert code == 0, err[-2000:]
    return run, out


@pytest.mark.slow
def test_odd_class_and_file_names_round_trip(tmp_path, capsys, config_factory, bad_input):
    root = make_image_folder(tmp_path / "shapes", per_class=8)
    (root / "circle").rename(root / "yes|no")
    (root / "square").rename(root / 'a, "b"')
    (root / "triangle").rename(root / "café ☕")
    (root / "yes|no" / "circle_001.png").rename(root / "yes|no" / "tab\there.png")
    (root / "yes|no" / "circle_002.png").rename(root / "yes|no" / "new\nline.png")
    (root / 'a, "b"' / "square_001.png").rename(root / 'a, "b"' / '"quoted", comma.png')
    run, _ = trained_and_evaluated(capsys, tmp_path, config_factory, root, "odd")
    labels = ['a, "b"', "café ☕", "yes|no"]
    assert run.labels() == labels and len(run.labels_file.read_text(encoding="utf-8").splitlines()) == 3
    splits = {name: load_split(run.splits_dir, name) for name in ("train", "val", "test")}
    paths = {s.path: s.labels for samples in splits.values() for s in samples}
    assert len(paths) == 24 and all(found == (path.split("/")[0],) for path, found in paths.items())
    assert {"yes|no/tab\there.png", "yes|no/new\nline.png", 'a, "b"/"quoted", comma.png'} <= set(paths)
    rows = read_predictions(run.predictions_file("test"))
    assert sorted(row.image for row in rows) == sorted(s.path for s in splits["test"])
    assert {row.label for row in rows} == set(labels)
    bad_input("class folder named yes|no", "trained and evaluated")
    bad_input("TAB in a file name", "trained and evaluated")
    bad_input("newline in a file name", "trained and evaluated")
    bad_input("class and file names with commas, quotes and unicode", "round-trip through splits and predictions")


@pytest.mark.slow
def test_duplicate_rows_warn_in_train_and_labels_round_trip(tmp_path, capsys, config_factory, bad_input):
    root = tmp_path / "m"
    root.mkdir()
    rows = []
    for i in range(18):
        draw_shape(["circle", "square", "triangle"][i % 3], (200, 40 * (i % 3), 40), 32, seed=i).save(root / f"{i}.png")
        rows.append({"image": f"{i}.png", "label": [0, "yes|no", 'say "hi", twice'][i % 3]})
    rows += [rows[3], rows[4]]
    manifest = root / "rows.jsonl"
    manifest.write_text("\ufeff" + jsonl(*rows), encoding="utf-8")
    run, out = trained_and_evaluated(capsys, tmp_path, config_factory, manifest, "dups")
    assert "warning: 2 duplicate manifest rows" in out and "rows.jsonl:19 repeats rows.jsonl:4" in out, out
    assert run.labels() == ["0", "say \"hi\", twice", "yes|no"]
    assert sum(len(load_split(run.splits_dir, s)) for s in ("train", "val", "test")) == 18
    rows = read_predictions(run.predictions_file("test"))
    assert rows and {row.label for row in rows} <= set(run.labels())
    bad_input("duplicate manifest rows in train", "warned, counted once")
    bad_input("manifest label yes|no in single-label mode", "trained and evaluated")
