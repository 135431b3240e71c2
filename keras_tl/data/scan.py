"""Check every image before training: decode it, convert what TF can't read as-is, quarantine what is broken.

TensorFlow's decoders read 8-bit RGB/grayscale JPEG, PNG, GIF and BMP. Everything else that Pillow can open
(alpha, palette, CMYK, 16-bit, EXIF-rotated, WebP/TIFF, very large images) is converted once to an RGB PNG in
the run's cache, so the tf.data pipeline stays a pure-TF fast path.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

from PIL import Image, ImageOps

from keras_tl.data.sources import Listing, Sample, resolve

TF_NATIVE_FORMATS = frozenset({"JPEG", "PNG", "GIF", "BMP"})
TF_NATIVE_MODES = frozenset({"RGB", "L"})
DEFAULT_MAX_SIDE = 2048
# Pillow refuses above 2x this; we shrink huge images ourselves, so only absurd sizes are refused.
Image.MAX_IMAGE_PIXELS = 400_000_000


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
         workers: int = 8, progress: Optional[Callable[[Iterable], Iterable]] = None) -> ScanReport:
    """Decode every sample once. With ``convert_dir``, write converted copies there (else only report)."""
    report = ScanReport(root=str(listing.root))
    report.ignored = [{"path": p, "reason": r} for p, r in listing.ignored]
    if convert_dir is not None:
        convert_dir.mkdir(parents=True, exist_ok=True)
    samples = list({s.path: s for s in listing.samples}.values())  # rows sharing an image (several texts): one file

    def check(sample: Sample) -> tuple[Sample, str, str, Optional[str]]:
        return (sample, *_check_one(resolve(listing.root, sample.path), sample.path, convert_dir, max_side))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results: Iterable = pool.map(check, samples)
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


def _check_one(path: Path, rel: str, convert_dir: Optional[Path], max_side: int) -> tuple[str, str, Optional[str]]:
    try:
        data = path.read_bytes()
    except OSError as err:
        return "quarantined", f"unreadable ({err.strerror or err})", None
    if not data:
        return "quarantined", "empty file (0 bytes)", None
    sha1 = hashlib.sha1(data).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format == "JPEG":
                # DCT-domain downscaling keeps memory bounded for huge JPEGs.
                image.draft("RGB", (max_side, max_side))
            image.load()
    except Image.DecompressionBombError:
        return "quarantined", "too many pixels to decode safely", None
    except (OSError, SyntaxError, ValueError) as err:
        reason = "truncated image" if "truncated" in str(err).lower() else "not a readable image"
        return "quarantined", f"{reason} ({type(err).__name__}: {err})", None
    reasons = _conversion_reasons(image, data, max_side)
    if not reasons:
        return "ok", "", sha1
    if convert_dir is not None:
        try:
            _to_rgb(image, max_side).save(_converted_path(convert_dir, rel), "PNG")
        except (OSError, ValueError) as err:
            return "quarantined", f"could not convert ({type(err).__name__}: {err})", None
    return "converted", ", ".join(reasons), sha1


def _conversion_reasons(image: Image.Image, data: bytes, max_side: int) -> list[str]:
    reasons = []
    if image.format not in TF_NATIVE_FORMATS:
        reasons.append(f"{image.format or 'unknown'} format")
    if image.mode not in TF_NATIVE_MODES:
        reasons.append(f"mode {image.mode}")
    if getattr(image, "n_frames", 1) > 1:
        reasons.append("animated (first frame kept)")
    if image.getexif().get(0x0112, 1) not in (0, 1):
        reasons.append("EXIF orientation")
    if max(image.size) > max_side or _original_size_exceeds(data, max_side):
        reasons.append(f"larger than {max_side}px")
    return reasons


def _original_size_exceeds(data: bytes, max_side: int) -> bool:
    # draft() already shrank a huge JPEG's decoded size; its header still tells the original.
    try:
        return max(Image.open(io.BytesIO(data)).size) > max_side
    except (OSError, SyntaxError, ValueError):
        return False


def _to_rgb(image: Image.Image, max_side: int) -> Image.Image:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: rescale to 8 bits rather than clipping.
        image = image.point(lambda v: v / 257).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert("RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _converted_path(convert_dir: Path, rel: str) -> Path:
    return convert_dir / (hashlib.sha1(rel.encode("utf-8")).hexdigest()[:20] + ".png")
