import json

import pytest

from keras_tl.config import load_config
from keras_tl.data import list_source, load_split, prepare_data, save_splits, stratified_split
from keras_tl.data.sources import Sample
from keras_tl.errors import DataError
from keras_tl.run import RunFolder
from tests.helpers import draw_shape, make_image_folder


def test_csv_and_jsonl_manifests(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(4):
        draw_shape("circle", (200, 0, 0), 32, seed=i).save(images / f"{i}.png")
    (tmp_path / "m.csv").write_text('image,label,text\nimgs/0.png,cat,"a red, round thing"\nimgs/1.png,dog,\n')
    rows = [{"image": "imgs/2.png", "label": "cat|pet", "text": "hello"}, {"image": "imgs/3.png", "label": "dog"}]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    csv_listing = list_source(tmp_path / "m.csv")
    assert [(s.path, s.labels, s.text) for s in csv_listing.samples] == [
        ("imgs/0.png", ("cat",), "a red, round thing"), ("imgs/1.png", ("dog",), "")]
    jsonl = list_source(tmp_path / "m.jsonl", multi_label=True)
    assert [s.labels for s in jsonl.samples] == [("cat", "pet"), ("dog",)]
    assert jsonl.samples[1].text is None


def test_manifest_paths_cannot_escape_the_root_unless_allowed(tmp_path):
    outside = tmp_path / "outside.png"
    draw_shape("circle", (0, 0, 0), 16).save(outside)
    data = tmp_path / "data"
    data.mkdir()
    (data / "m.csv").write_text("image,label\n../outside.png,x\n")
    with pytest.raises(DataError, match="outside the manifest's folder"):
        list_source(data / "m.csv")
    listing = list_source(data / "m.csv", allow_outside_root=True)
    assert listing.samples[0].path == outside.resolve().as_posix()


def test_manifest_missing_column_and_bad_json(tmp_path):
    (tmp_path / "m.csv").write_text("file,label\na.png,x\n")
    with pytest.raises(DataError, match="no 'image' column"):
        list_source(tmp_path / "m.csv")
    (tmp_path / "m.jsonl").write_text('{"image": "a.png", "label": "x"}\n{broken\n')
    with pytest.raises(DataError, match="m.jsonl:2"):
        list_source(tmp_path / "m.jsonl")


def samples(n_per_class):
    return [Sample(f"{label}/{i}.png", (label,)) for label, n in n_per_class.items() for i in range(n)]


def test_split_is_stratified_seeded_and_disjoint():
    items = samples({"a": 40, "b": 20, "c": 10})
    first = stratified_split(items, val_fraction=0.2, test_fraction=0.1, seed=1)
    again = stratified_split(items, val_fraction=0.2, test_fraction=0.1, seed=1)
    other = stratified_split(items, val_fraction=0.2, test_fraction=0.1, seed=2)
    assert first == again and first != other
    counts = {name: {lab: sum(s.label == lab for s in part) for lab in "abc"} for name, part in first.items()}
    assert counts["val"] == {"a": 8, "b": 4, "c": 2} and counts["test"] == {"a": 4, "b": 2, "c": 1}
    paths = [s.path for part in first.values() for s in part]
    assert sorted(paths) == sorted(s.path for s in items)


def test_train_split_comes_in_a_seeded_order_that_mixes_classes():
    from keras_tl.data.pipeline import SHUFFLE_BUFFER

    items = samples({label: SHUFFLE_BUFFER for label in "abcd"})  # each class as large as the shuffle buffer
    train = stratified_split(items, val_fraction=0.1, test_fraction=0.1, seed=3)["train"]
    assert train == stratified_split(items, val_fraction=0.1, test_fraction=0.1, seed=3)["train"]
    assert train != sorted(train, key=lambda s: s.path)
    # The first buffer's worth of images the pipeline reads holds every class in about equal shares, so a buffer
    # of that size mixes them all into the first batches (in path order it would hold class "a" alone).
    first = [s.label for s in train[:SHUFFLE_BUFFER]]
    assert all(0.2 < first.count(label) / len(first) < 0.3 for label in "abcd")
    val = stratified_split(items, val_fraction=0.1, test_fraction=0.1, seed=3)["val"]
    assert val == sorted(val, key=lambda s: s.path)  # evaluation splits keep path order


def test_duplicates_stay_in_one_split_and_fixed_splits_are_kept():
    items = samples({"a": 10})
    hashes = {s.path: ("same" if s.path in ("a/0.png", "a/1.png", "a/2.png") else s.path) for s in items}
    for seed in range(10):
        split = stratified_split(items, val_fraction=0.3, test_fraction=0.3, seed=seed, content_hash=hashes)
        homes = {name for name, part in split.items() for s in part if hashes[s.path] == "same"}
        assert len(homes) == 1
    fixed = [Sample("x.png", ("a",), split="test")] + items
    assert fixed[0] in stratified_split(fixed, val_fraction=0.2, test_fraction=0.0, seed=0)["test"]


def test_tiny_class_goes_to_train():
    split = stratified_split(samples({"a": 20, "solo": 1}), val_fraction=0.2, test_fraction=0.2, seed=0)
    assert [s.path for s in split["train"] if s.label == "solo"] == ["solo/0.png"]


def test_splits_round_trip_with_text(tmp_path):
    items = [Sample("a/1.png", ("a",), text='tab\tand "quotes"\nnewline'), Sample("b/2.png", ("b", "c"))]
    save_splits({"train": items, "val": [], "test": []}, tmp_path)
    loaded = load_split(tmp_path, "train")
    assert [(s.path, s.labels, s.text) for s in loaded] == [(s.path, s.labels, s.text) for s in items]


def test_prepare_saves_splits_labels_and_report(tmp_path, image_folder):
    config = load_config(data={"source": str(image_folder), "val_fraction": 0.25, "test_fraction": 0.25})
    run = RunFolder(tmp_path / "run").ensure()
    data = prepare_data(config.data, run, seed=3, multi_label=False)
    assert run.labels() == ["circle", "square", "triangle"] == data.label_names
    assert {p.name for p in run.splits_dir.iterdir()} == {"train.txt", "val.txt", "test.txt"}
    assert run.scan_report_file.is_file()
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [18, 9, 9]
    rerun = prepare_data(config.data, RunFolder(tmp_path / "run2").ensure(), seed=3, multi_label=False)
    assert rerun.splits == data.splits


def test_empty_class_and_empty_split_are_refused(tmp_path):
    root = make_image_folder(tmp_path / "d", per_class=3)
    (root / "empty").mkdir()
    (root / "empty" / "broken.jpg").write_bytes(b"nope")
    run = RunFolder(tmp_path / "run").ensure()
    config = load_config(data={"source": str(root)})
    with pytest.raises(DataError, match="class 'empty' has no usable images \\(1 quarantined\\)"):
        prepare_data(config.data, run, seed=0, multi_label=False)
    (root / "empty" / "broken.jpg").unlink()
    (root / "empty").rmdir()
    config = load_config(data={"source": str(root), "val_fraction": 0.1, "test_fraction": 0.1})
    with pytest.raises(DataError, match="the val split is empty"):
        prepare_data(config.data, run, seed=0, multi_label=False)
