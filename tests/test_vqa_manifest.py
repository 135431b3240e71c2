"""The easy-VQA manifest behind configs/multimodal_vqa.yaml: real images and questions, one row per question."""

import csv
from collections import defaultdict

from keras_tl.quickstart.vqa import write_vqa_manifest


def test_manifest_rows_splits_and_answers(tmp_path):
    import easy_vqa

    counts = write_vqa_manifest(tmp_path, questions_per_image=1, val_fraction=0.1)
    with (tmp_path / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["image", "label", "text", "split"]
    # One question per training image (4,000 images, a tenth of them for validation); every test question.
    assert counts == {"train": 3600, "val": 400, "test": len(easy_vqa.get_test_questions()[0])}
    assert {row["label"] for row in rows} == set(easy_vqa.get_answers())
    splits_of_image = defaultdict(set)
    for row in rows:
        splits_of_image[row["image"]].add(row["split"])
        assert row["text"].endswith("?")
    assert all(len(splits) == 1 for splits in splits_of_image.values())  # no image on two sides of a split
    assert len(splits_of_image) == 5000 and all((tmp_path / image).is_file() for image in splits_of_image)
