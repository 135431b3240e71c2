"""Is the input pipeline the bottleneck? Training steps/s with real decode + augment vs pre-materialized tensors.

MobileNetV2 (alpha 1.0) at its benchmark size, 224 px, batch 32, keras_tl's own model and training step, in
phase 1 (frozen base, the cheaper step, so the harder case for the input side) and phase 2 (fine-tune from
block_13, BatchNorm frozen). Inputs:

- pre-materialized: batches already decoded, resized and augmented, held in memory (no input work per step);
- decode + augment: keras_tl's pipeline reading the image files every step (data.cache: none), parallel
  decode/resize with tf.data autotune, then the default augmentation (flip, rotation, zoom, contrast);
- decode only: the same without augmentation (what phase 1 reads when it cannot use cached features);
- cached + augment: the default data.cache: memory (decode once, augment every step); timed alone only, as its
  input work is a subset of decode + augment's.

Measurement: the model is traced once; every measurement then starts a fresh iterator, runs ``--warmup`` steps
(iterator start-up, prefetch filling, autotune settling) and times the next ``--steps``. Trials are interleaved
(trial 1 of every pipeline, then trial 2, ...; the order rotates each trial) and the result is the median of the
per-trial ratios to pre-materialized, so that load from other processes hits every pipeline alike.
The pipeline alone (no model) is also timed, in wall time and in CPU time per batch: on a machine with few
cores the input side's CPU time is taken from the training step, however well it overlaps.

Sources: JPEG photographs (crops of scikit-learn's sample photos, about 500x375, so decoding and resizing cost
what a phone photo set costs) in both phases, and easy-VQA's 64x64 PNG pictures (pipeline alone).

    python -m benchmarks.input_pipeline [--steps 30] [--warmup 5] [--trials 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import Timer, easy_vqa_folders, machine, print_table, write_results  # noqa: E402
from keras_tl.config import AugmentConfig, load_config  # noqa: E402
from keras_tl.data import list_source, make_dataset  # noqa: E402
from keras_tl.models import build_classifier  # noqa: E402
from keras_tl.train import compile_for, freeze_base, unfreeze_top  # noqa: E402

SIZE, BATCH = 224, 32


def photo_folder(dest: Path, count: int = 256, seed: int = 0) -> Path:
    """JPEG crops (about 500x375) of scikit-learn's two sample photographs, one folder per photograph."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    if dest.is_dir():
        return dest
    rng = random.Random(seed)
    photos = load_sample_images()
    for index, (name, pixels) in enumerate(zip(photos.filenames, photos.images)):
        folder = dest / Path(name).stem
        folder.mkdir(parents=True)
        image = Image.fromarray(pixels)
        for i in range(count // len(photos.images)):
            scale = rng.uniform(0.6, 1.0)
            w, h = int(image.width * scale), int(image.height * scale)
            x, y = rng.randint(0, image.width - w), rng.randint(0, image.height - h)
            crop = image.crop((x, y, x + w, y + h)).resize((500, 375), Image.BILINEAR)
            if rng.random() < 0.5:
                crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
            crop.save(folder / f"{index}_{i:04d}.jpg", quality=90)
    return dest


def pipelines(folder: Path, seed: int) -> tuple[dict[str, tf.data.Dataset], int]:
    listing = list_source(folder)
    paths = [str(folder / s.path) for s in listing.samples]
    names = sorted({s.label for s in listing.samples})
    targets = np.array([names.index(s.label) for s in listing.samples], dtype="int32")
    # The augmentation keras_tl had on by default until it measured real bases (now off by default).
    augment = AugmentConfig(flip="horizontal", rotation=0.05, zoom=0.1, contrast=0.1)
    common = dict(image_size=SIZE, batch_size=BATCH, training=True, seed=seed, augment=augment)
    real = make_dataset(paths, targets, cache="none", **common)
    decode_only = make_dataset(paths, targets, cache="none", **{**common, "augment": None})
    cached = make_dataset(paths, targets, cache="memory", **common)
    images, labels = map(np.concatenate, zip(*[(x.numpy(), y.numpy()) for x, y in real.take(8)]))
    materialized = tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH).prefetch(tf.data.AUTOTUNE)
    return {"pre-materialized": materialized.repeat(), "decode + augment": real.repeat(),
            "decode only": decode_only.repeat(), "cached + augment": cached.repeat()}, len(names)


def model_for(phase: int, num_classes: int) -> keras.Model:
    config = load_config(model={"backbone": "mobilenetv2", "weights": "none", "input_size": SIZE})
    keras.utils.set_random_seed(0)
    model = build_classifier(config.model, num_classes)
    freeze_base(model)
    if phase == 2:
        unfreeze_top(model, None, "mobilenetv2")
    compile_for(model, keras.optimizers.Adam(1e-4), False)
    return model


class StepClock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def steps_per_second(model: keras.Model, ds: tf.data.Dataset, steps: int, warmup: int) -> float:
    """Steady-state rate: the steps after ``warmup`` (which absorb iterator start-up and prefetch filling)."""
    clock = StepClock()
    model.fit(ds, steps_per_epoch=warmup + steps, epochs=1, verbose=0, callbacks=[clock])
    return steps / (clock.ends[-1] - clock.ends[warmup - 1])


def pipeline_alone(ds: tf.data.Dataset, steps: int, warmup: int) -> tuple[float, float]:
    """Batches per second and CPU milliseconds (all threads of this process) per batch."""
    iterator = iter(ds)
    for _ in range(warmup):
        next(iterator)
    cpu = time.process_time()
    with Timer() as timer:
        for _ in range(steps):
            next(iterator)
    return steps / timer.seconds, (time.process_time() - cpu) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before each measurement")
    parser.add_argument("--trials", type=int, default=3, help="interleaved trials of each pipeline")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    before = machine()
    # (source, folder, phases trained): the photos in both phases; the small PNGs through the pipeline alone.
    sources = [("JPEG photos ~500x375", photo_folder(workdir / "photos"), (1, 2)),
               ("easy-VQA PNG 64x64", easy_vqa_folders(workdir)["shapes"], ())]
    rows = []
    for source, folder, phases in sources:
        inputs, num_classes = pipelines(folder, seed=0)
        for name, ds in inputs.items():
            rate, cpu_ms = pipeline_alone(ds, 60, args.warmup)
            rows.append({"source": source, "phase": "-", "pipeline": name, "trial": 1, "steps_per_s": rate,
                         "cpu_ms_per_batch": cpu_ms, "what": "pipeline alone, no model"})
        for phase in phases:
            model = model_for(phase, num_classes)
            model.fit(inputs["pre-materialized"], steps_per_epoch=2, epochs=1, verbose=0)  # trace once
            names = [name for name in inputs if name != "cached + augment"]  # its input work is a subset
            for trial in range(args.trials):
                for name in names[trial % len(names):] + names[:trial % len(names)]:
                    cpu = time.process_time()
                    rate = steps_per_second(model, inputs[name], args.steps, args.warmup)
                    cpu_ms = (time.process_time() - cpu) / (args.steps + args.warmup) * 1000
                    rows.append({"source": source, "phase": phase, "pipeline": name, "trial": trial + 1,
                                 "steps_per_s": rate, "cpu_ms_per_batch": cpu_ms, "what": "training steps"})
                    print(f"  {source}, phase {phase}, {name}, trial {trial + 1}: {rate:.3f} steps/s", flush=True)
    summary = summarize(rows)
    print()
    print_table(summary, ["source", "phase", "pipeline", "steps_per_s", "vs_pre_materialized", "cpu_ms_per_batch"])
    result = {"benchmark": "input_pipeline", "model": "MobileNetV2 alpha 1.0", "image_size": SIZE, "batch": BATCH,
              "timed_steps": args.steps, "warmup_steps": args.warmup, "trials": args.trials,
              "machine_before": before, "machine_after": machine(), "summary": summary}
    paths = write_results("input_pipeline", result, rows)
    print(f"\nwrote {paths[0]} and {paths[1]}")


def summarize(rows: list[dict]) -> list[dict]:
    """Median rate per pipeline, and the median over trials of its rate relative to the pre-materialized rate
    measured in the same trial (back to back, so that load from other processes cancels out)."""
    def rate(source, phase, pipeline, trial):
        return next(r["steps_per_s"] for r in rows if (r["source"], r["phase"], r["pipeline"], r["trial"])
                    == (source, phase, pipeline, trial))

    out = []
    for source, phase, pipeline in dict.fromkeys((r["source"], r["phase"], r["pipeline"]) for r in rows):
        trials = [r["trial"] for r in rows if (r["source"], r["phase"], r["pipeline"]) == (source, phase, pipeline)]
        ratios = [rate(source, phase, pipeline, t) / rate(source, phase, "pre-materialized", t) for t in trials]
        out.append({"source": source, "phase": phase, "pipeline": pipeline,
                    "steps_per_s": round(statistics.median(rate(source, phase, pipeline, t) for t in trials), 3),
                    "vs_pre_materialized": round(statistics.median(ratios), 3),
                    "cpu_ms_per_batch": round(statistics.median(
                        r["cpu_ms_per_batch"] for r in rows
                        if (r["source"], r["phase"], r["pipeline"]) == (source, phase, pipeline)), 1)})
    return out


if __name__ == "__main__":
    main()
