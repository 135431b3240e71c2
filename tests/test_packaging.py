"""What `pip install` puts into site-packages: keras_tl and nothing else at the top level (the repository's export/
folder installs as keras_tl.export, mobile_demo/edge as keras_tl.edge)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_has_one_top_level_package(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                             "--wheel-dir", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    wheel = next(tmp_path.glob("keras_tl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"keras_tl"}
    for module in ("keras_tl/export/exporter.py", "keras_tl/export/tfmot/bridge.py", "keras_tl/edge/decoding.py",
                   "keras_tl/quickstart/quickstart.yaml"):
        assert module in names
