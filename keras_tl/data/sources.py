"""Where samples come from: an image folder (one sub-folder per class) or a CSV/JSONL manifest."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from keras_tl.errors import DataError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
MANIFEST_EXTENSIONS = frozenset({".csv", ".jsonl"})


@dataclass(frozen=True)
class Sample:
    path: str  # relative to the data root (posix), or absolute when allowed outside it
    labels: tuple[str, ...]
    text: Optional[str] = None
    split: Optional[str] = None  # a manifest may fix the split per row

    @property
    def label(self) -> str:
        return self.labels[0]


@dataclass
class Listing:
    """Everything a source holds: samples to scan, and files set aside before scanning (with the reason)."""

    root: Path
    samples: list[Sample]
    ignored: list[tuple[str, str]] = field(default_factory=list)


def list_source(source: str | Path, *, multi_label: bool = False, label_separator: str = "|",
                image_column: str = "image", label_column: str = "label", text_column: str = "text",
                allow_outside_root: bool = False) -> Listing:
    if not str(source):
        raise DataError("no data source given: set data.source to an image folder or a .csv/.jsonl manifest")
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"data source not found: {path}")
    if path.is_dir():
        return list_image_folder(path)
    if path.suffix.lower() in MANIFEST_EXTENSIONS:
        return list_manifest(path, multi_label=multi_label, label_separator=label_separator,
                             image_column=image_column, label_column=label_column, text_column=text_column,
                             allow_outside_root=allow_outside_root)
    raise DataError(f"data source {path} is neither a folder nor a .csv/.jsonl manifest")


def list_image_folder(root: Path) -> Listing:
    root = root.resolve()
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{root} has no class sub-folders: expected one folder of images per class")
    listing = Listing(root=root, samples=[])
    for entry in sorted(root.iterdir()):
        if not entry.is_dir():
            listing.ignored.append((entry.name, "file at the top level, outside any class folder"))
    for class_dir in class_dirs:
        for file in _walk_files(class_dir, root, listing.ignored):
            rel = file.relative_to(root).as_posix()
            suffix = file.suffix.lower()
            if file.name.startswith("."):
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
    listing = Listing(root=root, samples=[])
    for line_no, row in rows:
        image = str(row.get(image_column) or "").strip()
        label = str(row.get(label_column) or "").strip()
        if not image or not label:
            listing.ignored.append((f"{path.name}:{line_no}", f"row without {image_column if not image else label_column}"))
            continue
        rel = _resolve_manifest_path(root, image, allow_outside_root, f"{path.name}:{line_no}")
        labels = tuple(s.strip() for s in label.split(label_separator) if s.strip()) if multi_label else (label,)
        text = row.get(text_column)
        split = str(row["split"]).strip().lower() if row.get("split") else None
        if split is not None and split not in ("train", "val", "test"):
            raise DataError(f"{path.name}:{line_no}: split must be train, val or test, got '{split}'")
        listing.samples.append(Sample(path=rel, labels=labels, text=None if text is None else str(text), split=split))
    return listing


def resolve(root: Path, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else root / p


def _read_manifest_rows(path: Path) -> list[tuple[int, dict]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            if path.suffix.lower() == ".csv":
                return [(i + 2, row) for i, row in enumerate(csv.DictReader(handle))]
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
