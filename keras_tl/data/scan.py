"""Check every image before training: decode it, convert what TF can't read as-is, quarantine what is broken.

TensorFlow's decoders read 8-bit RGB/grayscale JPEG, PNG, GIF and BMP. Everything else that Pillow can open
(alpha, palette, CMYK, 16-bit, EXIF-rotated, WebP/TIFF, very large images) is converted once to an RGB PNG in
the run's cache, so the tf.data pipeline stays a pure-TF fast path. The rule is keras_tl.edge.decoding's
(mobile_demo/edge/decoding.py), which predict, export verification and the edge runner apply too.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import sys
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

from PIL import Image

from keras_tl.data.sources import Listing, Sample, resolve
from keras_tl.edge.decoding import DECODE_ERRORS, DEFAULT_MAX_SIDE, open_image, to_rgb

# Decoding takes up to 4 bytes a pixel and converting as much again (a 20000x20000 PNG: GBs), so the workers
# together decode at most this many pixels at once (a 12-megapixel photo: five at a time); an image larger than
# that decodes alone. Memory then stays bounded whatever the images' sizes and the number of workers.
DECODE_PIXEL_BUDGET = 64 * 2**20
# glibc keeps what a thread freed in that thread's own heap, so without handing it back each worker would keep
# the largest image it ever decoded (8 workers: 8 at once, whatever the budget): after a decode this large, the
# freed memory goes back to the system.
TRIM_AFTER_PIXELS = 2**20
_malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None) if sys.platform.startswith("linux") else None
# Files submitted to the workers ahead of the one the scan reports next: enough to keep them busy, and a folder
# of any size holds only this many pending results.
AHEAD_PER_WORKER = 4


@dataclass
class ScanReport:
    root: str
    usable: list[dict] = field(default_factory=list)  # {"path", "decode_path", "sha1"}
    converted: list[dict] = field(default_factory=list)  # {"path", "reason"}
    quarantined: list[dict] = field(default_factory=list)  # {"path", "reason"}
    ignored: list[dict] = field(default_factory=list)  # {"path", "reason"}
    duplicates: list[list[str]] = field(default_factory=list)

    def decode_paths(self) -> dict[str, str]:
        return {u["path"]: u["decode_path"] for u in self.usable}

    def content_hashes(self) -> dict[str, str]:
        return {u["path"]: u["sha1"] for u in self.usable}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "ScanReport":
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def summary_lines(self) -> list[str]:
        lines = [
            f"{len(self.usable)} usable images under {self.root}"
            f" ({len(self.converted)} converted, {len(self.quarantined)} quarantined, {len(self.ignored)} ignored)"
        ]
        for title, rows in (("converted", self.converted), ("quarantined", self.quarantined), ("ignored", self.ignored)):
            for row in rows:
                lines.append(f"  {title:<11} {row['path']}: {row['reason']}")
        for group in self.duplicates:
            lines.append(f"  duplicate   identical files (kept in one split): {', '.join(group)}")
        return lines


def scan(listing: Listing, convert_dir: Optional[Path] = None, *, max_side: int = DEFAULT_MAX_SIDE,
         workers: int = 8, progress: Optional[Callable[[Iterable], Iterable]] = None,
         decode_pixels: int = DECODE_PIXEL_BUDGET) -> ScanReport:
    """Decode every sample once, ``workers`` files at a time, at most ``decode_pixels`` decoded pixels at once.
    With ``convert_dir``, write converted copies there (else only report). ``progress`` wraps the results, which
    know their count (a progress bar gets its total, so an ETA)."""
    report = ScanReport(root=str(listing.root))
    report.ignored = [{"path": p, "reason": r} for p, r in listing.ignored]
    if convert_dir is not None:
        convert_dir.mkdir(parents=True, exist_ok=True)
    samples = list({s.path: s for s in listing.samples}.values())  # rows sharing an image (several texts): one file
    budget = PixelBudget(decode_pixels)

    def check(sample: Sample) -> tuple[Sample, str, str, Optional[str]]:
        return (sample, *_check_one(resolve(listing.root, sample.path), sample.path, convert_dir, max_side, budget))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results: Iterable = Counted(in_order(pool, check, samples, ahead=workers * AHEAD_PER_WORKER), len(samples))
        if progress is not None:
            results = progress(results)
        by_hash: dict[str, list[str]] = {}
        for sample, status, detail, sha1 in results:
            if status == "quarantined":
                report.quarantined.append({"path": sample.path, "reason": detail})
                continue
            decode_path = str(resolve(listing.root, sample.path))
            if status == "converted":
                report.converted.append({"path": sample.path, "reason": detail})
                if convert_dir is not None:
                    decode_path = str(_converted_path(convert_dir, sample.path))
            report.usable.append({"path": sample.path, "decode_path": decode_path, "sha1": sha1})
            by_hash.setdefault(sha1, []).append(sample.path)
    report.duplicates = [paths for paths in by_hash.values() if len(paths) > 1]
    return report


class PixelBudget:
    """Decoded pixels the scan's workers hold at once: a decode waits until its pixels fit, and an image larger
    than the whole budget waits to decode alone."""

    def __init__(self, pixels: int):
        self.total = self.free = max(int(pixels), 1)
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, pixels: int):
        pixels = min(max(int(pixels), 1), self.total)
        with self._changed:
            self._changed.wait_for(lambda: self.free >= pixels)
            self.free -= pixels
        try:
            yield
        finally:
            with self._changed:
                self.free += pixels
                self._changed.notify_all()


def in_order(pool: ThreadPoolExecutor, fn: Callable, items: Sequence, *, ahead: int) -> Iterator:
    """``pool.map(fn, items)`` with at most ``ahead`` items submitted and not yet yielded (pool.map submits every
    item at once: a future per file, and every result kept until the consumer reaches it)."""
    pending: deque[Future] = deque()
    for item in items:
        if len(pending) >= ahead:
            yield pending.popleft().result()
        pending.append(pool.submit(fn, item))
    while pending:
        yield pending.popleft().result()


class Counted:
    """An iterator that knows its length, so tqdm shows a total and an ETA."""

    def __init__(self, iterator: Iterator, count: int):
        self._iterator, self._count = iterator, count

    def __iter__(self) -> Iterator:
        return self._iterator

    def __len__(self) -> int:
        return self._count


def _check_one(path: Path, rel: str, convert_dir: Optional[Path], max_side: int,
               budget: PixelBudget) -> tuple[str, str, Optional[str]]:
    try:
        data = path.read_bytes()
    except OSError as err:
        return "quarantined", f"unreadable ({err.strerror or err})", None
    if not data:
        return "quarantined", "empty file (0 bytes)", None
    sha1 = hashlib.sha1(data).hexdigest()
    try:
        image, reasons = open_image(data, max_side)
    except DECODE_ERRORS as err:
        return "quarantined", _unreadable(err), None
    width, height = image.size  # read from the header; a huge JPEG's is already its reduced decode size
    with budget.hold(width * height):
        try:
            target = None if convert_dir is None else _converted_path(convert_dir, rel)
            return _decode(image, reasons, sha1, target, max_side)
        finally:
            image.close()  # frees the decoded pixels before the next large image may decode
            if width * height >= TRIM_AFTER_PIXELS:
                _return_freed_memory()


def _decode(image: Image.Image, reasons: list[str], sha1: str, target: Optional[Path],
            max_side: int) -> tuple[str, str, Optional[str]]:
    try:
        image.load()
    except DECODE_ERRORS as err:
        return "quarantined", _unreadable(err), None
    if not reasons:
        return "ok", "", sha1
    if target is not None:
        try:
            to_rgb(image, max_side).save(target, "PNG")
        except (OSError, ValueError) as err:
            return "quarantined", f"could not convert ({type(err).__name__}: {err})", None
    return "converted", ", ".join(reasons), sha1


def _return_freed_memory() -> None:
    if _malloc_trim is not None:
        _malloc_trim(0)


def _unreadable(err: Exception) -> str:
    if isinstance(err, Image.DecompressionBombError):
        return "too many pixels to decode safely"
    reason = "truncated image" if "truncated" in str(err).lower() else "not a readable image"
    return f"{reason} ({type(err).__name__}: {err})"


def _converted_path(convert_dir: Path, rel: str) -> Path:
    return convert_dir / (hashlib.sha1(rel.encode("utf-8")).hexdigest()[:20] + ".png")
