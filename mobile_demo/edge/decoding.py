"""The one decoding rule for every path that feeds a keras_tl model: training's scan, evaluation, predict, export
verification and this edge runner. It needs only Pillow, so the runner ships it, and keras_tl installs this
folder as ``keras_tl.edge`` (pyproject.toml) rather than keeping a copy that could drift.

TensorFlow decodes 8-bit RGB and grayscale JPEG, PNG, GIF and BMP itself ("native" files). Every other file that
Pillow opens reaches the model as ``to_rgb`` makes it: EXIF orientation applied, alpha composited on white,
16-bit grayscale scaled to 8 bits, palette and CMYK converted, the first frame of an animation, at most
``max_side`` pixels a side. Training converts such files once into lossless PNGs; other paths convert them in
memory with the same functions, so both see the same pixels.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps

TF_NATIVE_FORMATS = frozenset({"JPEG", "PNG", "GIF", "BMP"})
TF_NATIVE_MODES = frozenset({"RGB", "L"})
DEFAULT_MAX_SIDE = 2048
EXIF_ORIENTATION = 0x0112
# Pillow refuses above 2x this; huge images are shrunk here, so only absurd sizes are refused.
Image.MAX_IMAGE_PIXELS = 400_000_000
# What Pillow raises for missing, truncated, foreign or absurdly large files.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def open_image(data: bytes, max_side: int = DEFAULT_MAX_SIDE) -> tuple[Image.Image, list[str]]:
    """Pillow's image of ``data``, not decoded yet, and why it needs converting ([] for a native file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
    reasons = conversion_reasons(image, max_side)  # before draft(), which changes the size the header gave
    if image.format == "JPEG":
        # DCT-domain downscaling keeps memory bounded for huge JPEGs (a no-op for the others).
        image.draft("RGB", (max_side, max_side))
    return image, reasons


def conversion_reasons(image: Image.Image, max_side: int = DEFAULT_MAX_SIDE) -> list[str]:
    reasons = []
    if image.format not in TF_NATIVE_FORMATS:
        reasons.append(f"{image.format or 'unknown'} format")
    if image.mode not in TF_NATIVE_MODES:
        reasons.append(f"mode {image.mode}")
    elif "transparency" in image.info:  # an RGB/L PNG with a transparent colour, which TensorFlow ignores
        reasons.append("transparency")
    if getattr(image, "n_frames", 1) > 1:
        reasons.append("animated (first frame kept)")
    # The EXIF the header gave: a PNG's own getexif() decodes the whole image to look behind the pixels too.
    if Image.Image.getexif(image).get(EXIF_ORIENTATION, 1) not in (0, 1):
        reasons.append("EXIF orientation")
    if max(image.size) > max_side:
        reasons.append(f"larger than {max_side}px")
    return reasons


def to_rgb(image: Image.Image, max_side: int = DEFAULT_MAX_SIDE) -> Image.Image:
    """The RGB picture the model sees for an image of ``open_image`` (decodes it; rotates ``image`` in place)."""
    ImageOps.exif_transpose(image, in_place=True)  # in place: a huge image is not copied
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: rescale to 8 bits rather than clipping.
        image = image.point(lambda v: v / 257).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode not in TF_NATIVE_MODES:
        image = image.convert("RGB")
    if max(image.size) > max_side:
        # Grayscale shrinks before it becomes RGB (the same pixels, a third of the memory).
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image.convert("RGB")


def decode_as_trained(data: bytes, max_side: int = DEFAULT_MAX_SIDE) -> Image.Image | None:
    """The RGB picture training sees for a file it converts; None for a native file, which TensorFlow decodes."""
    image, reasons = open_image(data, max_side)
    return to_rgb(image, max_side) if reasons else None
