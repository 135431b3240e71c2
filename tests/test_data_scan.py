"""The scan: every odd file is converted, quarantined with a reason, or ignored with a reason -- never dropped."""

import json

import numpy as np
import pytest
from PIL import Image

from keras_tl.config import load_config
from keras_tl.data import list_source, load_image, scan
from keras_tl.data.prepared import check_source
from tests.helpers import draw_shape
from tests.support.files import make_messy_folder


@pytest.fixture
def messy(tmp_path):
    return make_messy_folder(tmp_path / "messy")


def by_path(rows):
    return {row["path"]: row["reason"] for row in rows}


def test_every_file_is_accounted_for(messy, tmp_path):
    listing = list_source(messy)
    report = scan(listing, tmp_path / "converted", workers=2)
    usable = {u["path"] for u in report.usable}
    converted = by_path(report.converted)
    quarantined = by_path(report.quarantined)
    ignored = by_path(report.ignored)
    assert usable == {"good/rgb.png", "good/rgb.jpg", "odd/gray.png", "odd/alpha.png", "odd/palette.png",
                      "odd/cmyk.jpg", "odd/deep16.png", "odd/rotated.jpg", "odd/photo.webp"}
    assert set(converted) == {"odd/alpha.png", "odd/palette.png", "odd/cmyk.jpg", "odd/deep16.png",
                              "odd/rotated.jpg", "odd/photo.webp"}
    assert "mode RGBA" in converted["odd/alpha.png"] and "mode CMYK" in converted["odd/cmyk.jpg"]
    assert "EXIF orientation" in converted["odd/rotated.jpg"] and "WEBP" in converted["odd/photo.webp"]
    assert "truncated" in quarantined["odd/truncated.jpg"]
    assert "empty" in quarantined["odd/empty.jpg"]
    assert "not a readable image" in quarantined["odd/not_an_image.png"]
    assert ignored["odd/.DS_Store"] == "hidden file"
    assert "not an image extension" in ignored["odd/notes.csv"]
    assert "outside any class folder" in ignored["README.md"]
    # Every file on disk appears in exactly one list.
    on_disk = {p.relative_to(messy).as_posix() for p in messy.rglob("*") if p.is_file()}
    assert on_disk == usable | set(quarantined) | set(ignored)


def test_converted_images_decode_in_tensorflow_as_rgb(messy, tmp_path):
    report = scan(list_source(messy), tmp_path / "converted", workers=2)
    paths = report.decode_paths()
    for rel in ("odd/alpha.png", "odd/palette.png", "odd/cmyk.jpg", "odd/deep16.png", "odd/photo.webp"):
        image = load_image(paths[rel], 32).numpy()
        assert image.shape == (32, 32, 3)
        assert 0 <= image.min() and image.max() <= 255
    alpha = np.asarray(Image.open(paths["odd/alpha.png"]))
    assert alpha.shape[2] == 3 and alpha.mean() > 150  # composited over white, not black
    deep = np.asarray(Image.open(paths["odd/deep16.png"]))
    assert deep.max() > 200  # 16-bit range scaled to 8 bits, not clipped to black/white
    # EXIF orientation honoured: the 40x20 image becomes 20x40 with the blue stripe on top.
    rotated = np.asarray(Image.open(paths["odd/rotated.jpg"]))
    assert rotated.shape[:2] == (40, 20)
    assert rotated[:5, :, 2].mean() > 150 and rotated[-5:, :, 0].mean() > 150


def test_check_writes_nothing_and_counts_per_class(messy):
    config = load_config(data={"source": str(messy)})
    before = sorted(p for p in messy.rglob("*"))
    samples, report = check_source(config.data)
    assert sorted(p for p in messy.rglob("*")) == before
    assert {s.label for s in samples} == {"good", "odd"}
    assert len(report.quarantined) == 3


def test_duplicates_are_reported(tmp_path):
    root = tmp_path / "dups"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
    image = draw_shape("circle", (10, 200, 10), 32, seed=3)
    image.save(root / "a" / "one.png")
    image.save(root / "b" / "same.png")
    draw_shape("circle", (10, 200, 10), 32, seed=4).save(root / "b" / "other.png")
    report = scan(list_source(root), None, workers=1)
    assert report.duplicates == [["a/one.png", "b/same.png"]]
    assert json.loads(json.dumps(report.__dict__))["duplicates"]  # the report is JSON-serialisable
