"""Real images for the offline quickstart: easy-VQA's 64x64 shape pictures (shipped in the ``easy-vqa`` package),
grouped by shape into image folders. Labels come from the dataset's own question/answer pairs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Callable, Collection, Optional

SHAPES = ("circle", "rectangle", "triangle")
COLORS = ("red", "green", "blue", "black", "gray", "teal", "brown", "yellow")


def image_attributes(questions) -> dict[int, dict[str, str]]:
    """Shape and colour per image id, read off answers ("circle") and yes/no questions ("is there a red shape?")."""
    attributes: dict[int, dict[str, str]] = {}
    for question, answer, image_id in zip(*questions):
        found = attributes.setdefault(image_id, {})
        words = re.findall(r"[a-z]+", question.lower())
        negated = "not" in words or "no" in words
        affirmed = (answer == "yes" and not negated) or (answer == "no" and negated)
        if answer in SHAPES:
            found["shape"] = answer
        if answer in COLORS:
            found["color"] = answer
        for word in words:
            if word in SHAPES and (answer in COLORS or affirmed):
                found["shape"] = word
            if word in COLORS and (answer in SHAPES or affirmed):
                found["color"] = word
    return attributes


def write_shape_folder(dest: Path, part: str) -> dict[str, int]:
    """Copy easy-VQA's ``part`` ("train" or "test") images into dest/<shape>/; returns images per class."""
    counts = write_class_folder(dest, part, lambda found: found.get("shape"))
    return {shape: counts.get(shape, 0) for shape in SHAPES}


def write_class_folder(dest: Path, part: str, label_of: Callable[[dict], Optional[str]],
                       image_ids: Optional[Collection[int]] = None) -> dict[str, int]:
    """Copy easy-VQA's ``part`` images (or those of them in ``image_ids``) into dest/<label_of(attributes)>/."""
    import easy_vqa

    questions = easy_vqa.get_train_questions() if part == "train" else easy_vqa.get_test_questions()
    paths = easy_vqa.get_train_image_paths() if part == "train" else easy_vqa.get_test_image_paths()
    counts: dict[str, int] = {}
    if dest.exists():
        shutil.rmtree(dest)
    for image_id, found in sorted(image_attributes(questions).items()):
        label = label_of(found)
        if label is None or image_id not in paths or (image_ids is not None and image_id not in image_ids):
            continue  # easy-VQA asks nothing about this attribute of a few images; they carry no label to learn
        (dest / label).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(paths[image_id], dest / label / f"{part}_{image_id}.png")
        counts[label] = counts.get(label, 0) + 1
    return counts
