"""One decoding rule for every path (no training/serving skew): for each file the scan converts, the pixels that
predict and export verification (``load_images``), the edge runner and the phone page feed the model are the
pixels the training pipeline feeds for it. Also: the scan decodes huge images one at a time, and keras_tl
installs the edge runner's folder (the rule's one copy) as keras_tl.edge."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from keras_tl.data import list_source, load_images, make_dataset, scan
from mobile_demo.edge.images import load_image as edge_load_image
from tests.helpers import draw_shape
from tests.support.files import EXIF_ORIENTATION
from tests.support.memory import scan_in_fresh_process

ROOT = Path(__file__).resolve().parents[1]
SIZE = 32
# The runner resizes with Pillow's float bilinear filter, training with TensorFlow's antialiased bilinear in
# float32: the same filter, apart by float rounding (measured: at most 0.0002 of a level). Both round to whole
# levels, so they are equal but where a value lands within 0.0002 of a half level: there one level apart. Smooth
# 16-bit and half-transparent files have many exact halves (measured: 3.5 % and 1.5 % of their values differ,
# every other file under 0.2 %).
EDGE_ATOL = 1.0
EDGE_MEAN_DIFFERENCE = 0.05
# The page rounds its resize to whole levels (0.5 apart), and Chromium decodes by itself: its 16-to-8-bit scaling
# is a level off Pillow's here and there (measured: at most 1.5 levels, 0.6 on average, for the 16-bit PNG; 0.5
# and under 0.25 for the other files).
BROWSER_MAX_LEVELS = 2.0
BROWSER_MEAN_LEVELS = 1.0


def _shape(size=(40, 40)) -> Image.Image:
    """An asymmetric picture (a shape off-centre, a blue bar on the left), so a wrong rotation shows."""
    image = draw_shape("triangle", (200, 30, 30), max(size), seed=3).resize(size)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 5, size[1]), fill=(20, 40, 220))
    return image


def _with_alpha(image: Image.Image, alpha: np.ndarray) -> Image.Image:
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.fromarray(alpha.astype(np.uint8)))
    return rgba


def _ring(size=40) -> np.ndarray:
    """Opaque in a disc, fully transparent outside."""
    y, x = np.mgrid[:size, :size]
    return np.where((x - size / 2) ** 2 + (y - size / 2) ** 2 < (size / 3) ** 2, 255, 0)


def _rotated_jpeg(path):
    image = _shape((48, 30))
    exif = image.getexif()
    exif[EXIF_ORIENTATION] = 6  # stored sideways: viewers (and training) rotate it 90 degrees clockwise
    image.save(path, exif=exif.tobytes(), quality=95)


def _transparent_png(path):
    _with_alpha(_shape(), _ring()).save(path)


def _semi_transparent_png(path):
    _with_alpha(_shape(), np.tile(np.linspace(0, 255, 40), (40, 1))).save(path)


def _palette_with_transparent_ring() -> Image.Image:
    """The picture's three colours as a palette image, and a fourth (green) for the pixels outside the disc, which
    the file marks transparent."""
    image = _shape().quantize(colors=3)
    pixels = np.asarray(image).copy()
    pixels[_ring() == 0] = 3
    palette = Image.fromarray(pixels, "P")
    palette.putpalette(image.getpalette()[:9] + [0, 255, 0])
    return palette


def _palette_png_with_transparency(path):
    _palette_with_transparent_ring().save(path, transparency=3)


def _cmyk_jpeg(path):
    _shape().convert("CMYK").save(path, quality=95)


def _deep16_png(path):
    ramp = np.linspace(0, 65535, 40 * 40).reshape(40, 40).astype(np.uint16)  # the whole 16-bit range
    Image.fromarray(ramp).save(path)


def _animated_gif(path):
    second = draw_shape("circle", (0, 0, 0), 40).quantize(colors=4)
    _palette_with_transparent_ring().save(path, save_all=True, append_images=[second], duration=100, loop=0,
                                          transparency=3, disposal=2)


def _webp_with_alpha(path):
    _with_alpha(_shape(), _ring()).save(path, lossless=True)


def _gray_alpha_png(path):
    _with_alpha(_shape().convert("L"), _ring()).convert("LA").save(path)


def _huge_jpeg(path):
    # Above the 2048px limit, and large enough that the JPEG decodes reduced (DCT scaling) in the scan.
    _shape((4400, 4200)).save(path, quality=90)


ODD_FILES = {
    "rotated.jpg": ("EXIF-rotated JPEG", _rotated_jpeg),
    "transparent.png": ("transparent PNG", _transparent_png),
    "semi_transparent.png": ("semi-transparent PNG", _semi_transparent_png),
    "palette_transparency.png": ("palette PNG with transparency", _palette_png_with_transparency),
    "cmyk.jpg": ("CMYK JPEG", _cmyk_jpeg),
    "deep16.png": ("16-bit PNG", _deep16_png),
    "animated.gif": ("animated GIF", _animated_gif),
    "alpha.webp": ("WebP with alpha", _webp_with_alpha),
    "gray_alpha.png": ("grayscale+alpha PNG", _gray_alpha_png),
    "huge.jpg": ("JPEG above the size limit", _huge_jpeg),
}
# The runner already decoded these as training did (Pillow converts CMYK to RGB in both).
EDGE_FILES = sorted(set(ODD_FILES) - {"cmyk.jpg"})


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("odd") / "data" / "odd"
    folder.mkdir(parents=True)
    for name, (_, make) in ODD_FILES.items():
        make(folder / name)
    return folder


@pytest.fixture(scope="module")
def trained(odd_folder, tmp_path_factory) -> dict[str, np.ndarray]:
    """File name -> the [SIZE, SIZE, 3] image the training pipeline feeds (scan, converted PNG, tf.data)."""
    report = scan(list_source(odd_folder.parent), tmp_path_factory.mktemp("converted"), workers=2)
    assert {row["path"] for row in report.converted} == {f"odd/{name}" for name in ODD_FILES}, report.summary_lines()
    decode_paths = report.decode_paths()
    names = sorted(ODD_FILES)
    dataset = make_dataset([decode_paths[f"odd/{name}"] for name in names], np.zeros(len(names), "int32"),
                           image_size=SIZE, batch_size=len(names), training=False, seed=0)
    images, _ = next(iter(dataset))
    return dict(zip(names, images.numpy()))


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_predict_decodes_an_odd_file_as_training_does(name, odd_folder, trained, bad_input):
    predicted = load_images([str(odd_folder / name)], SIZE)[0]

    np.testing.assert_array_equal(predicted, trained[name])  # the converted PNG is lossless: bit-equal
    bad_input(f"{ODD_FILES[name][0]} through predict/verification", "same pixels as training")


@pytest.mark.parametrize("name", EDGE_FILES)
def test_edge_runner_decodes_an_odd_file_as_training_does(name, odd_folder, trained, bad_input):
    edge = edge_load_image(odd_folder / name, SIZE)

    np.testing.assert_allclose(edge, trained[name], rtol=0, atol=EDGE_ATOL)
    assert np.mean(np.abs(edge - trained[name])) <= EDGE_MEAN_DIFFERENCE
    bad_input(f"{ODD_FILES[name][0]} through the edge runner", "training's pixels, a rare level apart")


BROWSER_DRIVER = """
import { createRequire } from "node:module";

const [web, size, ...images] = process.argv.slice(2);
const { chromium } = createRequire(`${web}/package.json`)("playwright-core");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});
try {
  const page = await browser.newPage();
  // The page's own modules and the picked files, served without a server or any network.
  await page.route("http://page.test/**", (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === "/") return route.fulfill({ contentType: "text/html", body: "<!doctype html><title>pixels</title>" });
    if (path.startsWith("/file/")) return route.fulfill({ path: images[Number(path.slice(6))] });
    return route.fulfill({ path: web + path, contentType: "text/javascript" });
  });
  await page.goto("http://page.test/");
  const pixels = await page.evaluate(async ({ count, size }) => {
    const { decodePicture, resizeForModel } = await import("/resize.js");
    const out = [];
    for (let i = 0; i < count; i++) {
      const picture = await decodePicture(await (await fetch(`/file/${i}`)).blob());
      out.push(Array.from(resizeForModel(picture, picture.width, picture.height, size).data));
    }
    return out;
  }, { count: images.length, size: Number(size) });
  console.log(JSON.stringify(pixels));
} finally {
  await browser.close();
}
"""


@pytest.fixture(scope="module")
def browser_pixels(built_page, odd_folder, tmp_path_factory) -> dict[str, np.ndarray]:
    """File name -> the RGB pixels the phone page hands the model for it (picked file, decoded, resized)."""
    driver = tmp_path_factory.mktemp("browser") / "pixels.mjs"
    driver.write_text(BROWSER_DRIVER)
    names = sorted(ODD_FILES)
    result = subprocess.run(["node", str(driver), str(built_page), str(SIZE), *(str(odd_folder / n) for n in names)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rgba = np.array(json.loads(result.stdout.strip().splitlines()[-1]), np.float32).reshape(len(names), SIZE, SIZE, 4)
    return dict(zip(names, rgba[..., :3]))


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_phone_page_decodes_an_odd_file_as_training_does(name, browser_pixels, trained, bad_input):
    difference = np.abs(browser_pixels[name] - trained[name])

    assert difference.max() <= BROWSER_MAX_LEVELS and difference.mean() <= BROWSER_MEAN_LEVELS, (
        name, float(difference.max()), float(difference.mean()))
    bad_input(f"{ODD_FILES[name][0]} through the phone page",
              f"training's pixels within {BROWSER_MAX_LEVELS} levels (mean {BROWSER_MEAN_LEVELS})")


HUGE_PNGS = 3
HUGE_SIDE = 20000


def test_scan_decodes_huge_pngs_one_at_a_time(tmp_path, bad_input):
    """A PNG has no reduced decode: a 20000x20000 grayscale one takes 400 MB decoded (and took 2.4 GB to convert),
    and 8 scan workers decoded all of a folder's at once."""
    folder = tmp_path / "huge" / "big"
    folder.mkdir(parents=True)
    image = Image.new("L", (HUGE_SIDE, HUGE_SIDE), 90)
    ImageDraw.Draw(image).rectangle((0, 0, HUGE_SIDE // 3, HUGE_SIDE), fill=200)
    for i in range(HUGE_PNGS):
        image.putpixel((i, 0), i)  # distinct files, so none is a duplicate of another
        image.save(folder / f"huge{i}.png")
    del image
    converted, quarantined, grown_mb = scan_in_fresh_process(tmp_path / "huge", tmp_path / "conv", workers=8)
    assert (converted, quarantined) == (HUGE_PNGS, 0)
    assert grown_mb < 1000, grown_mb  # one at a time: measured 420 MB for one file, 520 MB for four
    for converted_file in (tmp_path / "conv").iterdir():
        assert Image.open(converted_file).size == (2048, 2048)
    bad_input(f"{HUGE_PNGS} {HUGE_SIDE}x{HUGE_SIDE} PNGs scanned with 8 workers", "converted, one decode at a time")


def installed_name(folder: Path) -> str:
    """The import name a package folder installs as (export/ is mapped to keras_tl.export)."""
    name = folder.relative_to(ROOT).as_posix().replace("/", ".")
    return f"keras_tl.{name}" if name.split(".")[0] == "export" else name


def test_keras_tl_installs_the_edge_runner_folder_as_keras_tl_edge():
    """Only one copy of the rule exists: mobile_demo/edge, which keras_tl's install maps to keras_tl.edge."""
    import keras_tl.edge.decoding

    assert Path(keras_tl.edge.decoding.__file__).resolve() == ROOT / "mobile_demo" / "edge" / "decoding.py"
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"keras_tl.edge": "mobile_demo/edge", "keras_tl.export": "export"}
    # The mapped packages are why the packages are listed: every package folder must be in the list.
    on_disk = {installed_name(p.parent) for top in ("keras_tl", "export") for p in (ROOT / top).rglob("__init__.py")}
    assert set(setuptools["packages"]) == on_disk | {"keras_tl.edge"}
