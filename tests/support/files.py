"""Real files the tests feed keras_tl: messy image folders, odd image encodings, config files."""

from __future__ import annotations

import io

import numpy as np
import yaml
from PIL import Image

from tests.helpers import draw_shape

EXIF_ORIENTATION = 0x0112


def write_config(path, config):
    from keras_tl.config import config_to_dict

    path.write_text(yaml.safe_dump(config_to_dict(config)))
    return path


def make_messy_folder(root):
    good = root / "good"
    good.mkdir(parents=True)
    odd = root / "odd"
    odd.mkdir()
    base = draw_shape("square", (200, 30, 30), 40, seed=1)
    base.save(good / "rgb.png")
    base.save(good / "rgb.jpg", quality=95)
    base.convert("L").save(odd / "gray.png")
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(odd / "alpha.png")
    base.convert("P", palette=Image.Palette.ADAPTIVE).save(odd / "palette.png")
    base.convert("CMYK").save(odd / "cmyk.jpg")
    Image.fromarray((np.arange(40 * 40).reshape(40, 40) * 40).astype("uint16")).save(odd / "deep16.png")
    wide = Image.new("RGB", (40, 20), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 10, 20))  # blue stripe on the left edge
    exif = wide.getexif()
    exif[EXIF_ORIENTATION] = 6  # stored sideways: viewers rotate 90 degrees clockwise
    wide.save(odd / "rotated.jpg", exif=exif.tobytes(), quality=95)
    base.save(odd / "photo.webp")
    buffer = io.BytesIO()
    base.save(buffer, "JPEG")
    (odd / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (odd / "empty.jpg").write_bytes(b"")
    (odd / "not_an_image.png").write_text("this is text, not a PNG")
    (odd / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (odd / "notes.csv").write_text("a,b\n")
    (root / "README.md").write_text("top-level file")
    return root
