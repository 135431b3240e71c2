"""Per-slice evaluation: extra manifest columns travel with their images and a weak slice is found."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest

from keras_tl.data.sources import Sample, list_source
from keras_tl.data.split import load_split, save_splits
from keras_tl.errors import DataError
from keras_tl.evaluate.slices import check_slice_column, slice_metrics
from tests.support.bad_inputs import expect_error, run_cli


def _sample(i: int, label: str, region: str) -> Sample:
    return Sample(path=f"{i}.png", labels=(label,), attributes=(("region", region),))


def test_slice_metrics_rank_only_slices_with_enough_images():
    regions = ["north"] * 10 + ["south"] * 10 + ["east"] * 2
    samples = [_sample(i, "a", r) for i, r in enumerate(regions)]
    targets = np.zeros(len(regions), dtype=int)
    predicted = np.array([0] * 9 + [1] + [0] * 6 + [1] * 4 + [1, 1])  # north 0.9, south 0.6, east 0.0
    probabilities = np.eye(2)[predicted]
    report = slice_metrics(samples, targets, probabilities, "region", min_count=5)
    by_value = {s.value: s for s in report.slices}
    assert {v: (s.count, s.accuracy, s.too_small) for v, s in by_value.items()} == {
        "east": (2, 0.0, True), "north": (10, 0.9, False), "south": (10, 0.6, False)}
    assert report.worst == "south"  # east is worse but too small to rank
    assert report.worst_gap == pytest.approx(15 / 22 - 0.6)
    assert by_value["north"].macro_f1 == pytest.approx(2 * 0.9 / 1.9 / 2)  # class 1 never true: f1 0


def test_unknown_slice_column_names_the_columns_that_exist(bad_input):
    with pytest.raises(DataError, match="other columns are: region"):
        check_slice_column([_sample(0, "a", "north")], "device")
    with pytest.raises(DataError, match="has no other columns"):
        check_slice_column([Sample(path="0.png", labels=("a",))], "device")
    bad_input("evaluate --slice-by an unknown column", "one-line error listing the columns")


def test_manifest_columns_are_kept_through_the_split_files(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.png").write_bytes(b"")
    manifest = tmp_path / "data.jsonl"
    manifest.write_text(json.dumps({"image": "a.png", "label": "x", "region": "north", "age": 31}) + "\n"
                        + json.dumps({"image": "b.png", "label": "y", "device": "phone\tX"}) + "\n", encoding="utf-8")
    samples = list_source(manifest).samples
    assert [dict(s.attributes) for s in samples] == [{"age": "31", "device": "", "region": "north"},
                                                     {"age": "", "device": "phone\tX", "region": ""}]
    save_splits({"train": samples, "val": [], "test": []}, tmp_path / "splits")
    assert load_split(tmp_path / "splits", "train") == [replace(s, split="train") for s in samples]


@pytest.mark.slow
def test_a_deliberately_weak_slice_is_found_and_reported(tmp_path, shapes_base, capsys, bad_input):
    import keras_tl
    from tests.helpers import CLASSES, NO_AUGMENT, make_image_folder, tiny_config

    folder = make_image_folder(tmp_path / "shapes", per_class=20)
    classes = list(CLASSES)
    rows = []
    for c, kind in enumerate(classes):
        for i, path in enumerate(sorted((folder / kind).iterdir())):
            split, region, label = ("train", "", kind) if i < 12 else ("val", "", kind) if i < 14 else ("test", "", kind)
            if split == "test":
                # south's labels are the next class's: the model, right about the shape, is wrong about the label.
                region = ("north", "north", "north", "south", "south", "east")[i - 14]
                label = classes[(c + 1) % len(classes)] if region == "south" else kind
            rows.append({"image": path.relative_to(folder).as_posix(), "label": label, "split": split,
                         "region": region})
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "label", "split", "region"])
        writer.writeheader()
        writer.writerows(rows)
    config = tiny_config(tmp_path / "runs", manifest, shapes_base, name="slices",
                         data=NO_AUGMENT,
                         train={"phase1": {"epochs": 8, "learning_rate": 3e-3}, "phase2": {"epochs": 0}},
                         evaluate={"slice_by": "region", "slice_min_count": 4})
    run = keras_tl.train_model(config, log=lambda *_: None)

    slices = json.loads(run.metrics_file.read_text(encoding="utf-8"))["test"]["slices"]
    by_value = {s["value"]: s for s in slices["slices"]}
    assert {v: s["count"] for v, s in by_value.items()} == {"east": 3, "north": 9, "south": 6}
    assert slices["worst"] == "south" and by_value["east"]["too_small"]
    assert by_value["north"]["accuracy"] - by_value["south"]["accuracy"] > 0.5, slices
    assert slices["worst_gap"] > 0.2
    report = run.report_file.read_text(encoding="utf-8")
    assert "### By region (test split)" in report and "plots/slices_test.png" in report
    assert (run.plots_dir / "slices_test.png").stat().st_size > 1000

    code, out, _ = run_cli(capsys, "evaluate", run.path, "--split", "test", "--slice-by", "region")
    assert code == 0 and "worst slice: region=south" in out, out
    expect_error(capsys, bad_input, "evaluate --slice-by a column the manifest lacks", "other columns are: region",
                 "evaluate", run.path, "--slice-by", "device")
