"""``keras-tl quickstart``: a real end-to-end run, offline, in a few minutes on two CPU cores."""

from __future__ import annotations

from pathlib import Path

from keras_tl.config import load_config
from keras_tl.quickstart.dataset import write_shape_folder
from keras_tl.quickstart.pretrain import pretrain_base
from keras_tl.run import RunFolder

CONFIG_FILE = Path(__file__).with_name("quickstart.yaml")


def run_quickstart(output_dir: str | Path = "runs", *, pretrain_epochs: int = 8, overrides=(), log=print) -> RunFolder:
    from keras_tl.api import train_model

    output_dir = Path(output_dir)
    workdir = output_dir / "quickstart-data"
    target, source = workdir / "shapes", workdir / "shapes_source"
    config = load_config(CONFIG_FILE, overrides=[f"output_dir={output_dir}", f"data.source={target}", *overrides])
    if not (target.is_dir() and source.is_dir()):
        log(f"building the image folders under {workdir} from the easy-vqa package")
        for folder, part in ((source, "train"), (target, "test")):
            counts = write_shape_folder(folder, part)
            log(f"  {folder}: {sum(counts.values())} images ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    weights = pretrain_base(config, source, workdir, epochs=pretrain_epochs, log=log)
    config = load_config(CONFIG_FILE, overrides=[f"output_dir={output_dir}", f"data.source={target}",
                                                 f"model.weights={weights}", *overrides])
    return train_model(config, log=log)
