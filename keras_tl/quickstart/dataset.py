"""Real images for the offline quickstart: easy-VQA's 64x64 shape pictures (shipped in the ``easy-vqa`` package),
grouped by shape into image folders. Labels come from the dataset's own question/answer pairs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

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
    import easy_vqa

    questions = easy_vqa.get_train_questions() if part == "train" else easy_vqa.get_test_questions()
    paths = easy_vqa.get_train_image_paths() if part == "train" else easy_vqa.get_test_image_paths()
    counts = {shape: 0 for shape in SHAPES}
    if dest.exists():
        shutil.rmtree(dest)
    for shape in SHAPES:
        (dest / shape).mkdir(parents=True)
    for image_id, found in sorted(image_attributes(questions).items()):
        shape = found.get("shape")
        if shape is None or image_id not in paths:
            continue  # easy-VQA asks no shape question about a few images; they carry no label to learn
        shutil.copyfile(paths[image_id], dest / shape / f"{part}_{image_id}.png")
        counts[shape] += 1
    return counts
