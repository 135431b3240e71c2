"""Easy-VQA (shipped in the ``easy-vqa`` package) as an image+text manifest, plus the offline image base that
configs/multimodal_vqa.yaml needs: one row per question -- image, answer (13 classes), question, split.

easy-VQA's own test images form the test split; a seeded share of its training images (all questions of an
image together, so no image is on both sides) forms the validation split. The image base stands in for ImageNet
weights, which cannot be downloaded offline: MobileNetV2 trained from scratch to name each training-split
image's shape and colour, as the quickstart does for shapes alone. It never sees a validation or test image.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Optional

from keras_tl.config import ExperimentConfig
from keras_tl.quickstart.dataset import write_class_folder
from keras_tl.quickstart.pretrain import pretrain_base

MANIFEST_NAME = "manifest.csv"
PRETRAINED_BASE_NAME = "pretrained_base.keras"  # where keras_tl.quickstart.pretrain saves it
# The image base of configs/multimodal_vqa.yaml; easy-VQA's images are 64x64.
BASE_MODEL_OVERRIDES = ("model.backbone=mobilenetv2", "model.alpha=0.35", "model.input_size=64", "seed=42")


def write_vqa_manifest(dest: Path, *, val_fraction: float = 0.1, questions_per_image: Optional[int] = None,
                       seed: int = 0) -> dict[str, int]:
    """Copy the images under dest/images/ and write dest/manifest.csv; returns the rows per split.

    ``questions_per_image`` keeps a seeded sample of at most that many questions per training image (shorter
    training); the test split always holds all of easy-VQA's test questions."""
    import easy_vqa

    rng = random.Random(seed)
    images_dir = dest / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    train_ids = sorted(easy_vqa.get_train_image_paths())
    val_ids = set(rng.sample(train_ids, round(len(train_ids) * val_fraction)))
    rows: list[dict[str, str]] = []
    for part in ("train", "test"):
        questions, answers, image_ids = (easy_vqa.get_train_questions() if part == "train"
                                         else easy_vqa.get_test_questions())
        paths = easy_vqa.get_train_image_paths() if part == "train" else easy_vqa.get_test_image_paths()
        by_image: dict[int, list[tuple[str, str]]] = {}
        for question, answer, image_id in zip(questions, answers, image_ids):
            by_image.setdefault(image_id, []).append((question, answer))
        for image_id in sorted(by_image):
            name = f"{part}_{image_id}.png"
            target = images_dir / name
            if not target.is_file():
                target.write_bytes(Path(paths[image_id]).read_bytes())
            pairs = by_image[image_id]
            if part == "train" and questions_per_image is not None and len(pairs) > questions_per_image:
                pairs = rng.sample(pairs, questions_per_image)
            split = "test" if part == "test" else "val" if image_id in val_ids else "train"
            rows += [{"image": f"images/{name}", "label": answer, "text": question, "split": split}
                     for question, answer in pairs]
    with (dest / MANIFEST_NAME).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "label", "text", "split"])
        writer.writeheader()
        writer.writerows(rows)
    counts = {"train": 0, "val": 0, "test": 0}
    for row in rows:
        counts[row["split"]] += 1
    return counts


def pretrain_vqa_base(config: ExperimentConfig, dest: Path, *, epochs: int, log=print) -> Path:
    """The stand-in for ImageNet weights: ``config.model``'s base trained to name shape and colour."""
    with (dest / MANIFEST_NAME).open(encoding="utf-8", newline="") as handle:
        train_ids = {int(Path(row["image"]).stem.split("_")[1]) for row in csv.DictReader(handle)
                     if row["split"] == "train"}

    def shape_and_colour(found: dict) -> Optional[str]:
        return f"{found['color']}_{found['shape']}" if "color" in found and "shape" in found else None

    folder = dest / "base_images"
    if not (dest / PRETRAINED_BASE_NAME).is_file():  # else pretrain_base reuses it
        counts = write_class_folder(folder, "train", shape_and_colour, image_ids=train_ids)
        log(f"pretraining the image base on {sum(counts.values())} training images, {len(counts)} shape/colour "
            "classes")
    return pretrain_base(config, folder, dest, epochs=epochs, log=log)


def prepare_easy_vqa(dest: Path, *, overrides=(), questions_per_image: Optional[int] = None, pretrain_epochs: int = 8,
                     log=print) -> tuple[Path, Path]:
    """Write the manifest (unless there) and pretrain the image base (unless there); returns both paths."""
    from keras_tl.config import load_config

    dest = Path(dest)
    manifest = dest / MANIFEST_NAME
    if manifest.is_file():
        log(f"using the manifest at {manifest}")
    else:
        counts = write_vqa_manifest(dest, questions_per_image=questions_per_image)
        log(f"wrote {manifest}: " + ", ".join(f"{split} {n} questions" for split, n in counts.items()))
    config = load_config(overrides=[*BASE_MODEL_OVERRIDES, *overrides])
    return manifest, pretrain_vqa_base(config, dest, epochs=pretrain_epochs, log=log)
