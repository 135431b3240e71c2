"""A run's data, ready for training: label names, the saved splits and where each image is decoded from."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import tensorflow as tf

from keras_tl.config.schema import AugmentConfig, DataConfig, TextConfig
from keras_tl.data.pipeline import IMAGE_INPUT, encode_targets, make_dataset
from keras_tl.data.scan import ScanReport, scan
from keras_tl.data.sources import Sample, list_source
from keras_tl.data.split import (SPLITS, few_shot, load_split, save_splits, small_class_warnings,
                                  stratified_split)
from keras_tl.data.tokenizer import TEXT_INPUTS, TextTokenizer
from keras_tl.errors import DataError
from keras_tl.run import RunFolder
from keras_tl.text_checkpoint import resolve_text_weights


@dataclass
class PreparedData:
    label_names: list[str]
    splits: dict[str, list[Sample]]
    decode_paths: dict[str, str]
    multi_label: bool
    report: Optional[ScanReport] = None
    tokenizer: Optional[TextTokenizer] = None  # set for models that take text
    source_warnings: list[str] = field(default_factory=list)  # about the source (e.g. repeated rows), on first scan

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def has_text(self) -> bool:
        return any(s.text is not None for samples in self.splits.values() for s in samples)

    def paths(self, split: str) -> list[str]:
        return [self.decode_paths[s.path] for s in self.splits[split]]

    def targets(self, split: str) -> np.ndarray:
        return encode_targets([s.labels for s in self.splits[split]], self.label_names, self.multi_label)

    def dataset(self, split: str, *, image_size: int, batch_size: int, training: bool, seed: int,
                augment: Optional[AugmentConfig] = None, cache: str = "memory",
                cache_file: Optional[Path] = None, extra_inputs: Optional[dict[str, np.ndarray]] = None,
                inputs: Optional[Sequence[str]] = None, epoch: Optional[tf.Variable] = None) -> tf.data.Dataset:
        """``inputs``: the model's input names (default: the image alone); text inputs are tokenized here."""
        inputs = list(inputs or [IMAGE_INPUT])
        if any(name in TEXT_INPUTS for name in inputs):
            extra_inputs = {**(extra_inputs or {}), **self.text_inputs(split)}
        return make_dataset(self.paths(split), self.targets(split), image_size=image_size, batch_size=batch_size,
                            training=training, seed=seed, augment=augment, cache=cache, cache_file=cache_file,
                            extra_inputs=extra_inputs, include_image=IMAGE_INPUT in inputs, epoch=epoch)

    def text_inputs(self, split: str) -> dict[str, np.ndarray]:
        """Token ids and padding masks of the split's texts (every sample must have a text)."""
        if self.tokenizer is None:
            raise DataError("this model takes text, but the run has no tokenizer (tokenizer.json)")
        require_texts(self.splits[split])
        return self.tokenizer.encode([s.text for s in self.splits[split]])


@dataclass
class SourceCheck:
    """A listed and scanned source: the usable samples, the scan, every class (also one whose images all failed),
    warnings about the source, and ``problems()``: why training on it would be refused."""

    samples: list[Sample]
    report: ScanReport
    label_names: list[str]
    warnings: list[str]

    def counts(self) -> dict[str, int]:
        counts = label_counts(self.samples)
        return {name: counts[name] for name in self.label_names}

    def problems(self) -> list[str]:
        counts = self.counts()
        empty = [name for name, n in counts.items() if n == 0]
        problems = []
        if empty:
            bad = sum(1 for q in self.report.quarantined if q["path"].split("/")[0] in empty)
            problems.append(f"class '{empty[0]}' has no usable images ({bad} quarantined); add images or remove the "
                            "folder" + (f" (also empty: {', '.join(empty[1:])})" if empty[1:] else ""))
        if len(self.label_names) < 2:
            problems.append(f"found {len(self.label_names)} class; a classifier needs at least 2")
        return problems


def inspect_source(data: DataConfig, multi_label: bool = False, *, convert_dir: Optional[Path] = None,
                   progress: Optional[Callable[[Iterable], Iterable]] = None) -> SourceCheck:
    """List and scan a source (nothing written without convert_dir)."""
    listing = list_source(data.source, multi_label=multi_label, label_separator=data.label_separator,
                          image_column=data.image_column, label_column=data.label_column,
                          text_column=data.text_column, allow_outside_root=data.allow_outside_root)
    report = scan(listing, convert_dir, workers=data.scan_workers, progress=progress)
    usable_paths = set(report.decode_paths())
    samples = [s for s in listing.samples if s.path in usable_paths]
    label_names = sorted({label for s in samples for label in s.labels} | _listed_classes(report, data))
    return SourceCheck(samples, report, label_names, listing.warnings)


def check_source(data: DataConfig, multi_label: bool = False, *, convert_dir: Optional[Path] = None,
                 progress: Optional[Callable[[Iterable], Iterable]] = None) -> tuple[list[Sample], ScanReport]:
    """List and scan a source; return the usable samples and the report (nothing written without convert_dir)."""
    check = inspect_source(data, multi_label, convert_dir=convert_dir, progress=progress)
    return check.samples, check.report


def prepare_data(data: DataConfig, run: RunFolder, *, seed: int, multi_label: bool,
                 progress: Optional[Callable[[Iterable], Iterable]] = None) -> PreparedData:
    """Scan the source, split it, and save labels, splits and the scan report into the run folder."""
    check = inspect_source(data, multi_label, convert_dir=run.converted_dir, progress=progress)
    problems = check.problems()
    if problems:
        raise DataError(problems[0])
    samples, report, label_names = check.samples, check.report, check.label_names
    splits = stratified_split(samples, val_fraction=data.val_fraction, test_fraction=data.test_fraction, seed=seed,
                              content_hash=report.content_hashes())
    _require_splits(splits, data, fractions_used=any(s.split is None for s in check.samples))
    if data.shots_per_class:
        splits["train"] = few_shot(splits["train"], data.shots_per_class, seed)
    run.data_dir.mkdir(parents=True, exist_ok=True)
    report.save(run.scan_report_file)
    save_splits(splits, run.splits_dir)
    run.write_labels(label_names)
    return PreparedData(label_names, splits, report.decode_paths(), multi_label, report,
                        source_warnings=check.warnings)


def load_prepared(run: RunFolder, data: DataConfig, multi_label: bool) -> PreparedData:
    """The data exactly as the run saw it: same labels, same split files, same converted images."""
    label_names = run.labels()
    if not run.scan_report_file.is_file():
        raise DataError(f"{run.path} has no data scan report; rerun 'keras-tl train' on it")
    report = ScanReport.load(run.scan_report_file)
    splits = {name: load_split(run.splits_dir, name, data.label_separator) for name in SPLITS}
    decode_paths = report.decode_paths()
    missing = [s.path for samples in splits.values() for s in samples if s.path not in decode_paths]
    if missing:
        raise DataError(f"split files name {len(missing)} images the scan report does not know, e.g. {missing[0]}")
    gone = [p for p in decode_paths.values() if not Path(p).is_file()]
    if gone:
        raise DataError(f"{len(gone)} images of this run are gone from disk, e.g. {gone[0]}")
    tokenizer = TextTokenizer.load(run.tokenizer_file) if run.tokenizer_file.is_file() else None
    return PreparedData(label_names, splits, decode_paths, multi_label, report, tokenizer)


def prepare_text(data: PreparedData, run: RunFolder, text: TextConfig) -> TextTokenizer:
    """Check every sample has a text, build the tokenizer from the text checkpoint's vocabulary and save it as
    the run's tokenizer.json. Done on every (re)run, so a resumed run with new text settings gets a tokenizer
    that fits them."""
    for split in SPLITS:
        require_texts(data.splits[split])
    data.tokenizer = TextTokenizer.from_checkpoint(resolve_text_weights(text.weights), text.max_length, text.encoder)
    data.tokenizer.save(run.tokenizer_file)
    return data.tokenizer


def require_texts(samples: Sequence[Sample]) -> None:
    """Models that take text need one per sample: a missing text is an error, never an empty string."""
    missing = [s.path for s in samples if s.text is None]
    if missing:
        raise DataError(f"{len(missing)} images have no text, e.g. {missing[0]}: give every row a value in the "
                        "manifest's text column (data.text_column), or every image a sidecar .txt file")


def warnings_for(prepared: PreparedData) -> list[str]:
    return prepared.source_warnings + small_class_warnings(prepared.splits, prepared.label_names)


def label_counts(samples: list[Sample]) -> Counter:
    return Counter(label for s in samples for label in s.labels)


def _listed_classes(report: ScanReport, data: DataConfig) -> set[str]:
    """Class folders count as classes even when none of their images survived the scan."""
    root = Path(report.root)
    if Path(data.source).is_dir():
        return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    return set()


def _require_splits(splits: dict[str, list[Sample]], data: DataConfig, *, fractions_used: bool) -> None:
    """``fractions_used``: some rows have no split of their own (a manifest's split column fixes the others)."""
    if not splits["train"]:
        raise DataError("the train split is empty: every image went to val/test")
    for name, fraction in (("val", data.val_fraction), ("test", data.test_fraction)):
        if fractions_used and fraction > 0 and not splits[name]:
            raise DataError(f"the {name} split is empty: too few images for data.{name}_fraction={fraction} "
                            "(add images or set that fraction to 0)")
