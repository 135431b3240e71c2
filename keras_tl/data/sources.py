"""Where samples come from: an image folder (one sub-folder per class) or a CSV/JSONL manifest."""

from __future__ import annotations

import csv
import json
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from keras_tl.edge.images import IMAGE_EXTENSIONS  # the one list: the edge runner reads folders too
from keras_tl.errors import DataError

MANIFEST_EXTENSIONS = frozenset({".csv", ".jsonl"})


@dataclass(frozen=True)
class Sample:
    path: str  # relative to the data root (posix), or absolute when allowed outside it
    labels: tuple[str, ...]
    text: Optional[str] = None
    split: Optional[str] = None  # a manifest may fix the split per row
    # The manifest's other columns (e.g. region, device), as (column, value) pairs: what evaluation slices by.
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return self.labels[0]

    def attribute(self, column: str) -> str:
        return dict(self.attributes).get(column, "")


@dataclass
class Listing:
    """Everything a source holds: samples to scan, files set aside before scanning (with the reason), and warnings
    about the source itself (shown by train and data check)."""

    root: Path
    samples: list[Sample]
    ignored: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def list_source(source: str | Path, *, multi_label: bool = False, label_separator: str = "|",
                image_column: str = "image", label_column: str = "label", text_column: str = "text",
                allow_outside_root: bool = False) -> Listing:
    if not str(source):
        raise DataError("no data source given: set data.source to an image folder or a .csv/.jsonl manifest")
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"data source not found: {path}")
    if path.is_dir():
        return list_image_folder(path, label_separator if multi_label else None)
    if path.suffix.lower() in MANIFEST_EXTENSIONS:
        return list_manifest(path, multi_label=multi_label, label_separator=label_separator,
                             image_column=image_column, label_column=label_column, text_column=text_column,
                             allow_outside_root=allow_outside_root)
    raise DataError(f"data source {path} is neither a folder nor a .csv/.jsonl manifest")


def list_image_folder(root: Path, label_separator: Optional[str] = None) -> Listing:
    """``label_separator``: given with multi-label, where a folder name must not contain it."""
    root = root.resolve()
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{root} has no class sub-folders: expected one folder of images per class")
    for class_dir in class_dirs:
        problem = label_problem(class_dir.name, label_separator)
        if problem:
            raise DataError(f"class folder {_printable(class_dir.name)!r} {problem}; rename the folder")
    listing = Listing(root=root, samples=[])
    for entry in sorted(root.iterdir()):
        if not entry.is_dir():
            listing.ignored.append((entry.name, "file at the top level, outside any class folder"))
    for class_dir in class_dirs:
        for file in _walk_files(class_dir, root, listing.ignored):
            rel = file.relative_to(root).as_posix()
            suffix = file.suffix.lower()
            if _printable(rel) != rel:
                # The run's split files and reports are UTF-8 text: a name that is not cannot be written there.
                listing.ignored.append((_printable(rel), "file name is not valid UTF-8 (rename the file)"))
            elif file.name.startswith("."):
                listing.ignored.append((rel, "hidden file"))
            elif suffix == ".txt" and _has_image_sibling(file):
                continue  # a sidecar caption, read with its image below
            elif suffix not in IMAGE_EXTENSIONS:
                listing.ignored.append((rel, f"not an image extension ({suffix or 'none'})"))
            else:
                listing.samples.append(Sample(path=rel, labels=(class_dir.name,), text=_sidecar_text(file)))
    return listing


def list_manifest(path: Path, *, multi_label: bool, label_separator: str, image_column: str, label_column: str,
                  text_column: str, allow_outside_root: bool) -> Listing:
    root = path.parent.resolve()
    rows = _read_manifest_rows(path)
    if not rows:
        raise DataError(f"manifest {path} has no rows")
    columns = set(rows[0][1])
    for required in (image_column, label_column):
        if required not in columns:
            raise DataError(f"manifest {path} has no '{required}' column (columns: {', '.join(sorted(columns))})")
    # Every other column is kept with its rows; JSONL rows may name different keys.
    reserved = {image_column, label_column, text_column, "split"}
    extra = sorted({key for _, row in rows for key in row} - reserved)
    listing = Listing(root=root, samples=[])
    first_rows: dict[tuple[str, Optional[str]], tuple[str, Sample]] = {}
    repeats: list[tuple[str, str]] = []
    for line_no, row in rows:
        where = f"{path.name}:{line_no}"
        image = str(row.get(image_column) or "").strip()
        labels = _row_labels(row.get(label_column), multi_label, label_separator, where)
        if not image or not labels:
            listing.ignored.append((where, f"row without {image_column if not image else label_column}"))
            continue
        rel = _resolve_manifest_path(root, image, allow_outside_root, where)
        text = row.get(text_column)
        split = str(row["split"]).strip().lower() if row.get("split") else None
        if split is not None and split not in ("train", "val", "test"):
            raise DataError(f"{where}: split must be train, val or test, got '{split}'")
        attributes = tuple((column, _attribute_text(row.get(column))) for column in extra)
        sample = Sample(path=rel, labels=labels, text=None if text is None else str(text), split=split,
                        attributes=attributes)
        # Rows about one image differ in their text (questions about a picture); the same image and text twice is
        # a repeat (counted once) or, with another label or split, a contradiction.
        first = first_rows.setdefault((rel, sample.text), (where, sample))
        if first[1] is sample:
            listing.samples.append(sample)
        elif first[1].split != sample.split:
            raise DataError(f"{first[0]} and {where} put {rel} in two splits "
                             f"({first[1].split or 'none given'}, {sample.split or 'none given'})")
        elif set(first[1].labels) == set(labels):
            repeats.append((where, first[0]))
        elif not multi_label:
            raise DataError(f"{first[0]} and {where} give {rel} two labels ({first[1].label!r}, {sample.label!r})"
                            + (" for the same text" if sample.text else ""))
        else:
            listing.samples.append(sample)
    if repeats:
        examples = ", ".join(f"{again} repeats {first}" for again, first in repeats[:3])
        listing.warnings.append(f"{len(repeats)} duplicate manifest row{'s' if len(repeats) > 1 else ''} (same "
                                f"image, label and text as an earlier row) counted once: {examples}"
                                + (", ..." if len(repeats) > 3 else ""))
    return listing


def _attribute_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value).strip()


def label_problem(label: str, separator: Optional[str] = None) -> Optional[str]:
    """Why ``label`` cannot be a class name, or None. labels.txt holds one label per line (a contract other tools
    read), so no line break or other control character; with multi-label, the separator joins labels."""
    if not label.strip():
        return "is blank"
    if _printable(label) != label:
        return "is not valid UTF-8"
    bad = first_control_character(label)
    if bad is not None:
        return f"contains the control character {bad!r} (labels.txt holds one label per line)"
    if separator and separator in label:
        return f"contains data.label_separator {separator!r}"
    return None


def first_control_character(text: str) -> Optional[str]:
    """The first control character or line/paragraph separator of ``text`` (what a one-line-per-entry file
    cannot hold as it is), or None."""
    return next((c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)


def _row_labels(value, multi_label: bool, separator: str, where: str) -> tuple[str, ...]:
    """A manifest row's labels, () when it has none. JSONL numbers are labels as their text; a list is several
    labels, so it needs multi-label."""
    if isinstance(value, list):
        if not multi_label:
            raise DataError(f"{where}: label is a list, but model.multi_label is off")
        parts = [_label_text(v, where) for v in value]
    else:
        text = _label_text(value, where)
        parts = text.split(separator) if multi_label else [text]
    labels = tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
    for label in labels:
        problem = label_problem(label, separator if multi_label else None)
        if problem:
            raise DataError(f"{where}: label {label!r} {problem}")
    return labels


def _label_text(value, where: str) -> str:
    if value is None:
        return ""
    # bool is an int in Python, but true/false as a class name is almost surely a mistake in the manifest.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: label must be text or a whole number (or, with model.multi_label, a list of "
                        f"them), got {json.dumps(value)[:60]}")
    return str(value)


def _printable(name: str) -> str:
    """``name`` with what UTF-8 cannot encode (the bytes of a non-UTF-8 file name, lone surrogates) shown as '?'."""
    return name.encode("utf-8", "replace").decode("utf-8")


def resolve(root: Path, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else root / p


def _read_manifest_rows(path: Path) -> list[tuple[int, dict]]:
    try:
        # utf-8-sig: Excel and Notepad start their UTF-8 files with a byte-order mark.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if path.suffix.lower() == ".csv":
                reader = csv.DictReader(handle)
                rows, start = [], 2
                for row in reader:  # a quoted field may span lines: name a row by the line it starts on
                    rows.append((start, row))
                    start = reader.line_num + 1
                return rows
            rows = []
            for i, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path.name}:{i}: not valid JSON ({err.msg})") from None
                if not isinstance(row, dict):
                    raise DataError(f"{path.name}:{i}: expected a JSON object per line")
                rows.append((i, row))
            return rows
    except UnicodeDecodeError:
        raise DataError(f"manifest {path} is not UTF-8 text") from None


def _resolve_manifest_path(root: Path, image: str, allow_outside_root: bool, where: str) -> str:
    candidate = Path(image).expanduser()
    full = (candidate if candidate.is_absolute() else root / candidate).resolve()
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        if not allow_outside_root:
            raise DataError(
                f"{where}: image path '{image}' points outside the manifest's folder {root} "
                "(set data.allow_outside_root=true to allow it)"
            ) from None
        return full.as_posix()


def _walk_files(class_dir: Path, root: Path, ignored: list[tuple[str, str]]):
    """Files below a class folder, following symlinks once (a link loop is reported, not followed forever)."""
    seen_dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen_dirs:
            ignored.append((Path(dirpath).relative_to(root).as_posix(), "symlink loop: folder already visited"))
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        hidden = [d for d in dirnames if d.startswith(".")]
        for d in hidden:
            ignored.append(((Path(dirpath) / d).relative_to(root).as_posix(), "hidden folder"))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if not file.exists():
                ignored.append((file.relative_to(root).as_posix(), "broken symlink"))
                continue
            yield file


def _has_image_sibling(txt: Path) -> bool:
    return any(txt.with_suffix(ext).exists() or txt.with_suffix(ext.upper()).exists() for ext in IMAGE_EXTENSIONS)


def _sidecar_text(image: Path) -> Optional[str]:
    txt = image.with_suffix(".txt")
    if txt.is_file():
        return txt.read_text(encoding="utf-8", errors="replace").strip()
    return None
