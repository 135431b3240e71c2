"""What every benchmark shares: the machine it ran on, the easy-VQA pictures, and writing the results."""

from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

RESULTS_DIR = Path(__file__).with_name("results")


def machine() -> dict:
    """CPU count, load and library versions: timings mean little without them."""
    import keras
    import tensorflow as tf

    return {
        "cpu_count": os.cpu_count(),
        "processor": _cpu_model(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line(before: dict, after: Optional[dict] = None) -> str:
    """The sentence every results page opens with: when, on what, and how loaded the machine was."""
    load = (f"load average {before['load_average_1_5_15'][0]} before and {after['load_average_1_5_15'][0]} after"
            if after else f"load average {before['load_average_1_5_15']} (1, 5, 15 minutes)")
    return (f"Measured {before['date']} on {before['cpu_count']} CPU cores ({before['processor']}, "
            f"{before['gpus']} GPUs); Python {before['python']}, TensorFlow {before['tensorflow']}, Keras "
            f"{before['keras']}; {load}.")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def easy_vqa_folders(workdir: Path, pretrain_images: int = 2000) -> dict[str, Path]:
    """easy-VQA's 5,000 pictures as two disjoint image folders by shape: 'pretrain' (the first
    ``pretrain_images`` training pictures) to pretrain a base on, and 'shapes' (the other ~2,850) to benchmark."""
    from keras_tl.quickstart.dataset import write_shape_folder

    folders = {"shapes": workdir / "shapes", "pretrain": workdir / "pretrain_shapes"}
    if all(folder.is_dir() for folder in folders.values()):
        return folders
    for part in ("train", "test"):
        write_shape_folder(folders["shapes"] / part, part)
    for file in sorted(folders["shapes"].glob("*/*/*.png")):  # <part>/<shape>/<part>_<id>.png
        part, image_id = file.stem.split("_")
        into = folders["pretrain"] if part == "train" and int(image_id) < pretrain_images else folders["shapes"]
        (into / file.parent.name).mkdir(parents=True, exist_ok=True)
        file.replace(into / file.parent.name / file.name)
    for part in ("train", "test"):
        shutil.rmtree(folders["shapes"] / part)
    return folders


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def print_table(rows: Sequence[dict], columns: Sequence[str]) -> None:
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def write_results(name: str, payload: dict, rows: Sequence[dict]) -> tuple[Path, Path]:
    """results/<name>.json (everything, machine included) and results/<name>.csv (the table)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = RESULTS_DIR / f"{name}.json", RESULTS_DIR / f"{name}.csv"
    json_path.write_text(json.dumps({**payload, "rows": list(rows)}, indent=2) + "\n", encoding="utf-8")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return json_path, csv_path
