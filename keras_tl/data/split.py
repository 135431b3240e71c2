"""Seeded, stratified train/val/test split that keeps identical files together (no leakage across splits)."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Optional

from keras_tl.data.sources import Sample, first_control_character
from keras_tl.errors import DataError

SPLITS = ("train", "val", "test")


def stratified_split(samples: list[Sample], *, val_fraction: float, test_fraction: float, seed: int,
                     content_hash: Optional[dict[str, str]] = None) -> dict[str, list[Sample]]:
    """Split each class (by its first label) in the given proportions (below 1 together: the schema refuses more);
    rows with a fixed split keep it."""
    content_hash = content_hash or {}
    out: dict[str, list[Sample]] = {name: [] for name in SPLITS}
    # Identical files form one group so that a duplicate never lands on both sides of a split.
    groups: dict[str, dict[str, list[Sample]]] = defaultdict(dict)
    label_of_group: dict[str, str] = {}
    for sample in samples:
        if sample.split:
            out[sample.split].append(sample)
            continue
        key = content_hash.get(sample.path, sample.path)
        # Rows of one image with different labels (questions about a picture) stay together too.
        groups[label_of_group.setdefault(key, sample.label)].setdefault(key, []).append(sample)
    rng = random.Random(seed)
    for label in sorted(groups):
        members = [groups[label][key] for key in sorted(groups[label])]
        rng.shuffle(members)
        n = len(members)
        n_test = round(n * test_fraction)
        n_val = round(n * val_fraction)
        while n_test + n_val >= n and (n_test or n_val):
            if n_test >= n_val:
                n_test -= 1
            else:
                n_val -= 1
        cut_test, cut_val = n_test, n_test + n_val
        for i, group in enumerate(members):
            name = "test" if i < cut_test else "val" if i < cut_val else "train"
            out[name].extend(group)
    for name in SPLITS:
        out[name].sort(key=lambda s: s.path)
    return {**out, "train": training_order(out["train"], seed)}


def training_order(train: list[Sample], seed: int) -> list[Sample]:
    """The train split in a seeded random order. Training caches images in this order and its shuffle buffer only
    mixes a few thousand neighbours (keras_tl.data.pipeline.SHUFFLE_BUFFER): in path order, which groups files by
    class, a buffer smaller than a class would fill batches with one class."""
    ordered = sorted(train, key=lambda s: s.path)
    random.Random(f"train-order-{seed}").shuffle(ordered)
    return ordered


def few_shot(train: list[Sample], shots: int, seed: int) -> list[Sample]:
    """``shots`` training samples of each class (by its first label), drawn with ``seed``; the rest are left out."""
    by_label: dict[str, list[Sample]] = defaultdict(list)
    for sample in train:
        by_label[sample.label].append(sample)
    short = sorted((len(members), label) for label, members in by_label.items() if len(members) < shots)
    if short:
        count, label = short[0]
        raise DataError(f"data.shots_per_class: {shots}, but class '{label}' has only {count} training images "
                        f"({len(short)} classes have fewer); lower shots_per_class or the val/test fractions")
    rng = random.Random(seed)
    kept = [sample for label in sorted(by_label) for sample in rng.sample(by_label[label], shots)]
    return training_order(kept, seed)


def small_class_warnings(splits: dict[str, list[Sample]], labels: list[str]) -> list[str]:
    warnings = []
    for split in ("val", "test"):
        if not splits[split]:
            continue
        present = {label for s in splits[split] for label in s.labels}
        missing = [label for label in labels if label not in present]
        if missing:
            warnings.append(f"{split} split has no image of: {', '.join(missing)} (too few images in those classes)")
    return warnings


def save_splits(splits: dict[str, list[Sample]], folder: Path) -> None:
    """One line per sample: path, labels (a JSON list), then, if any, text (a JSON string or null) and the
    manifest's other columns (a JSON object), tab-separated. JSON
    escapes tabs and line breaks, so any name and text round-trips; a plain path stays as it is, readable, and
    readers that cut at tabs keep working."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        lines = []
        for s in splits[name]:
            fields = [_path_field(s.path), json.dumps(list(s.labels), ensure_ascii=False)]
            if s.text is not None or s.attributes:
                fields.append(json.dumps(s.text, ensure_ascii=False))
            if s.attributes:
                fields.append(json.dumps(dict(s.attributes), ensure_ascii=False))
            lines.append("\t".join(fields))
        (folder / f"{name}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def load_split(folder: Path, name: str, label_separator: str = "|") -> list[Sample]:
    """Also reads split files of earlier versions: raw path, labels joined by ``label_separator``."""
    path = folder / f"{name}.txt"
    if not path.is_file():
        raise DataError(f"split file not found: {path}")
    samples = []
    # Only \n ends a line: a JSON string may hold characters that str.splitlines() also breaks at (U+2028, ...).
    for line_no, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line:
            continue
        fields = line.split("\t")
        try:
            text = json.loads(fields[2]) if len(fields) > 2 else None
            attributes = tuple(json.loads(fields[3]).items()) if len(fields) > 3 else ()
            samples.append(Sample(path=_read_path(fields[0]), labels=_read_labels(fields[1], label_separator),
                                  text=text, split=name, attributes=attributes))
        except (IndexError, ValueError, AttributeError):
            raise DataError(f"{path}:{line_no}: not a line of a split file (path, labels, text, "
                            "manifest columns)") from None
    return samples


def _path_field(path: str) -> str:
    if path.startswith('"') or first_control_character(path) is not None:
        return json.dumps(path)  # ASCII escapes: even readers that split at U+2028 see one line
    return path


def _read_path(field: str) -> str:
    if field.startswith('"'):
        try:
            return json.loads(field)
        except ValueError:
            pass  # an earlier version's raw path that starts with a quote
    return field


def _read_labels(field: str, separator: str) -> tuple[str, ...]:
    if field.startswith("["):
        try:
            labels = json.loads(field)
        except ValueError:
            labels = None
        if isinstance(labels, list) and labels and all(isinstance(label, str) for label in labels):
            return tuple(labels)
    return tuple(field.split(separator))
