"""Builders for the text tests' real files: captions next to the test images, a manifest with a text column, and
a tiny BERT saved as a keras-hub preset folder (random weights, a vocabulary of the captions' words)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from tests.helpers import CLASSES

COLOR_NAMES = {"circle": "red", "square": "green", "triangle": "blue"}
WORDS = ["a", "photo", "of", "the", "shape", "is", "there", "what", "color", "?", "red", "green", "blue",
         *CLASSES]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def caption(kind: str, i: int) -> str:
    # Every third caption names the shape: the text carries some of the label, as in real data.
    return f"a photo of the {kind}" if i % 3 == 0 else f"what color is the shape ? {COLOR_NAMES[kind]}"


def add_sidecar_texts(image_root: Path) -> Path:
    for class_dir in sorted(p for p in image_root.iterdir() if p.is_dir()):
        for i, image in enumerate(sorted(class_dir.glob("*.*"))):
            if image.suffix in (".png", ".jpg"):
                image.with_suffix(".txt").write_text(caption(class_dir.name, i), encoding="utf-8")
    return image_root


def write_text_manifest(image_root: Path, dest: Path) -> Path:
    """A CSV manifest (image,label,text) over copies of the test images, next to the manifest."""
    rows = []
    for class_dir in sorted(p for p in image_root.iterdir() if p.is_dir()):
        for i, image in enumerate(sorted(p for p in class_dir.iterdir() if p.suffix in (".png", ".jpg"))):
            target = dest / "images" / class_dir.name / image.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(image, target)
            rows.append({"image": target.relative_to(dest).as_posix(), "label": class_dir.name,
                         "text": caption(class_dir.name, i)})
    return write_manifest(dest / "labels.csv", rows)


def write_manifest(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def make_tiny_bert_preset(folder: Path, seed: int = 0) -> Path:
    """A 2-block, 16-wide BERT and its WordPiece tokenizer, saved with keras-hub's save_to_preset."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(SPECIAL) + len(WORDS), num_layers=2, num_heads=2,
                                             hidden_dim=16, intermediate_dim=32, max_sequence_length=32)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=SPECIAL + WORDS, lowercase=True)
    folder.mkdir(parents=True, exist_ok=True)
    backbone.save_to_preset(str(folder))
    tokenizer.save_to_preset(str(folder))
    return folder
