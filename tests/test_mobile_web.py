"""The phone page (mobile_demo/web) in headless Debian Chromium at a phone-sized viewport: served by its own
one-command server, it loads the exported int8 model, classifies the run's real test images picked through its
file input, and shows the same top-1 label as ``keras-tl predict`` on the same artifact."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.predict_reference import predict_top, split_images

WEB = Path(__file__).resolve().parents[1] / "mobile_demo" / "web"
DRIVER = Path(__file__).with_name("web_classify.mjs")
INT8_STEP = 1 / 256  # the int8 model's softmax comes in these steps: an exact tie may be ordered either way


@pytest.fixture
def served_page(built_page, exported_run):
    """``python -m mobile_demo.web.serve RUN`` on a free port of 127.0.0.1; yields the page's address."""
    run, _ = exported_run
    server = subprocess.Popen([sys.executable, "-m", "mobile_demo.web.serve", str(run.path), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=os.environ,
                              cwd=WEB.parents[1])
    try:
        line = server.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:"), line
        yield line.split()[1]
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_phone_page_shows_the_same_top1_as_predict(served_page, exported_run, tmp_path, capsys):
    run, _ = exported_run
    images = split_images(run)
    screenshot = tmp_path / "phone_page.png"

    result = subprocess.run(["node", str(DRIVER), served_page, str(screenshot), str(tmp_path / "chromium-profile"),
                             *map(str, images)], capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    page = json.loads(result.stdout.strip().splitlines()[-1])
    theirs = predict_top(run.export_dir / "model_int8.tflite", images, capsys)
    assert len(page["shown"]) == len(images) == 15
    for image, shown in zip(images, page["shown"]):
        assert shown["state"] == "classified", (shown, page["messages"])
        assert shown["status"].startswith("Model model_int8.tflite ready")
        scores = dict(item.split() for item in shown["results"])
        assert sorted(scores) == sorted(run.labels())  # MediaPipe read the labels from the model's metadata
        expected = theirs[str(image)]
        # The label text the page shows is the Python path's top-1, or one tied with it to the int8 step.
        assert shown["top1"] == expected[0][0] or dict(expected)[shown["top1"]] >= expected[0][1] - INT8_STEP, (
            image.name, shown, expected)
        assert shown["latency"].endswith("ms on this device (WebAssembly, CPU)")
    assert page["scrollWidth"] <= 390  # nothing wider than the phone's viewport
    with Image.open(screenshot) as picture:
        assert picture.width == 390 * 2 and picture.height >= 844 * 2  # device scale factor 2, full page
