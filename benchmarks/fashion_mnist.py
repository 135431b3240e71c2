"""Fashion-MNIST as a keras_tl manifest: PNG files and manifest.csv (image, label, split), written once.

The data come from Debian's ``dataset-fashion-mnist`` package (apt-get install dataset-fashion-mnist): 60,000
training and 10,000 test images of 28x28 grey pixels in the original IDX files.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
import numpy as np

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")
VAL_PER_CLASS = 50


def read_idx(name: str) -> np.ndarray:
    with gzip.open(FASHION_MNIST / name, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_manifest(dest: Path, per_class: int, seed: int, *, val_per_class: int = VAL_PER_CLASS) -> Path:
    """``per_class`` training images per class drawn with the seed, ``val_per_class`` of the rest for validation,
    and all 10,000 test images. An existing manifest.csv is reused as it is."""
    manifest = dest / "manifest.csv"
    if manifest.is_file():
        return manifest
    rng = np.random.default_rng(seed)
    train_x, train_y = read_idx("train-images-idx3-ubyte.gz"), read_idx("train-labels-idx1-ubyte.gz")
    test_x, test_y = read_idx("t10k-images-idx3-ubyte.gz"), read_idx("t10k-labels-idx1-ubyte.gz")
    rows = []
    for label in range(len(CLASSES)):
        chosen = rng.permutation(np.flatnonzero(train_y == label))[: per_class + val_per_class]
        for rank, index in enumerate(chosen):
            rows.append(("train" if rank < per_class else "val", f"images/train_{index}.png", train_x[index], label))
    rows += [("test", f"images/test_{i}.png", image, label) for i, (image, label) in enumerate(zip(test_x, test_y))]
    _write_pngs(dest, rows)
    partial = manifest.with_suffix(".csv.partial")  # a manifest only once every image it names is written
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label", "split"])
        writer.writerows([name, CLASSES[label], split] for split, name, _, label in rows)
    partial.replace(manifest)
    return manifest


def write_class_folders(dest: Path) -> Path:
    """The 60,000 training images as one folder of PNGs per class (keras_tl draws val and test from them)."""
    done = dest.with_name(dest.name + ".complete")  # beside the folder: inside it the scan would list it
    if done.is_file():
        return dest
    train_x, train_y = read_idx("train-images-idx3-ubyte.gz"), read_idx("train-labels-idx1-ubyte.gz")
    _write_pngs(dest, [("", f"{CLASSES[label]}/train_{i}.png", image, label)
                       for i, (image, label) in enumerate(zip(train_x, train_y))])
    done.write_text(f"{len(train_x)}\n", encoding="utf-8")
    return dest


def _write_pngs(dest: Path, rows: list) -> None:
    from PIL import Image

    for _, name, image, _ in rows:
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
