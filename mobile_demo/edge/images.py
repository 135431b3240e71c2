"""Images as the model was trained on them: RGB, resized to the model's square input, float32 pixels 0-255.

keras_tl's training pipeline resizes with TensorFlow's antialiased bilinear filter on float pixels (no crop, no
letterbox). Pillow's BILINEAR filter widens with the scale when it shrinks an image, which is the same
antialiasing; resizing each channel as a float ("F") image keeps the fractions that a uint8 resize would round
away, so a decoded image reaches the model with the same values as in training.

A file that training converts (EXIF-rotated, alpha, palette, CMYK, 16-bit, animated, WebP/TIFF, huge) is turned
into RGB by the rule training uses (decoding.py), so it reaches the resize with the pixels training saw.

JPEG decoders differ by a few levels per pixel: TensorFlow decodes with libjpeg's fast integer DCT and smooth
chroma upsampling, Pillow with the accurate DCT. simplejpeg (libjpeg-turbo) decodes the files TensorFlow
decodes itself the way it does, byte for byte; without it Pillow decodes them instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

try:
    import simplejpeg
except ImportError:  # a platform without its wheel: Pillow decodes JPEGs too, a few levels apart
    simplejpeg = None

from .decoding import DECODE_ERRORS, open_image, to_rgb
from .errors import EdgeError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def resize(image: Image.Image, size: int) -> np.ndarray:
    """[size, size, 3] float32 whole levels 0-255 from an RGB or grayscale Pillow image (grey repeated, as in
    training, which also rounds its resize to whole levels: its image cache is uint8)."""
    channels = image.convert("RGB").split()
    resized = [np.asarray(c.convert("F").resize((size, size), Image.BILINEAR), dtype=np.float32) for c in channels]
    return np.round(np.clip(np.stack(resized, axis=-1), 0.0, 255.0))


def load_image(path: str | Path, size: int) -> np.ndarray:
    try:
        data = Path(path).read_bytes()
        image, reasons = open_image(data)
        with image:
            if reasons:
                return resize(to_rgb(image), size)
            if simplejpeg is not None and image.format == "JPEG":
                rgb = simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=True, fastupsample=False)
                return resize(Image.fromarray(rgb), size)
            return resize(image, size)
    except DECODE_ERRORS as err:
        raise EdgeError(f"cannot read image {path}: {err}") from None


def image_files(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given, and the image files under each folder (sorted, recursively)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        elif path.is_file():
            files.append(path)
        else:
            raise EdgeError(f"input not found: {path}")
    if not files:
        raise EdgeError("no image files among the inputs")
    return files


def video_frames(source: str | int, every: int = 1, limit: int = 0) -> Iterator[tuple[int, Image.Image]]:
    """(frame number, RGB image) from a video file or a camera index, every ``every``-th frame, at most ``limit``
    frames (0: until the stream ends)."""
    try:
        import cv2
    except ImportError:
        raise EdgeError("--camera and --video need OpenCV: pip install opencv-python-headless") from None
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise EdgeError(f"cannot open {'camera' if isinstance(source, int) else 'video'} {source}")
    number = taken = 0
    try:
        while not limit or taken < limit:
            ok, frame = capture.read()
            if not ok:
                return
            if number % every == 0:
                taken += 1
                yield number, Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))  # OpenCV decodes to BGR
            number += 1
    finally:
        capture.release()
