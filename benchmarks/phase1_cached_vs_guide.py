"""Phase 1 (frozen base, train the head), side by side in one run: keras_tl's cached features vs the Keras guide.

The Keras guide's recipe: the pretrained base nested in the model, ``base.trainable = False``, called with
``training=False``, and ``model.fit`` for N epochs -- the base runs over every image in every epoch.
keras_tl (train.cache_features) runs the base once, then trains the head on the stored features.

A real ImageNet base (EfficientNet-Lite0 by default, its packaged ImageNet weights) at 224 px on Fashion-MNIST:
N training and M validation images per class drawn with the seed (Debian's ``dataset-fashion-mnist``). Same
split, seeded batch order, base, head (pooling, dropout 0.2, softmax) with the same initial weights, optimizer and
seed for both; no augmentation (keras_tl's default). Each recipe runs in a fresh process, as a user's training
does; trials alternate between the recipes so that load from other processes hits both alike. Per recipe: wall and process CPU seconds, the guide's seconds per epoch, and keras_tl's
split into feature extraction and the head's epochs.

    python -m benchmarks.phase1_cached_vs_guide [--per-class 1000] [--val-per-class 200] [--epochs 10] [--trials 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from benchmarks.common import RESULTS_DIR, machine, machine_line, print_table, write_results  # noqa: E402
from benchmarks.fashion_mnist import write_manifest  # noqa: E402
from keras_tl.config import load_config  # noqa: E402
from keras_tl.data import prepare_data  # noqa: E402
from keras_tl.models import build_classifier, get_backbone, input_size  # noqa: E402
from keras_tl.run import RunFolder  # noqa: E402
from keras_tl.train import compile_for, fit_two_phase, make_optimizer, read_history  # noqa: E402

SEED = 42
GUIDE, CACHED = "keras guide (base in every step)", "keras_tl cached features"


def experiment(manifest: Path, workdir: Path, args):
    return load_config(name="phase1", output_dir=str(workdir), seed=SEED, data={
        "source": str(manifest), "batch_size": 32,
        "augment": {"flip": "none", "rotation": 0.0, "zoom": 0.0, "contrast": 0.0},
    }, model={"backbone": args.backbone, "input_size": args.image_size, "weights": "imagenet", "dropout": 0.2},
        train={"phase1": {"epochs": args.epochs, "learning_rate": 1e-3}, "phase2": {"epochs": 0},
               "early_stopping_patience": 0, "verbose": 0, "cache_features": "on"})


def guide_model(config, num_classes: int, head: list) -> keras.Model:
    """The Keras guide's model: a nested, frozen base called with training=False (the constructor keras_tl's
    registry uses, which normalises its input itself)."""
    size = input_size(config.model)
    spec = get_backbone(config.model.backbone)
    base = spec.constructor(include_top=False, weights="imagenet", input_shape=(size, size, 3),
                            **spec.constructor_kwargs)
    base.trainable = False
    inputs = keras.Input((size, size, 3))
    x = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(config.model.dropout)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.layers[-1].set_weights(head)
    return model


class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = getattr(self, "seconds", []) + [time.perf_counter() - self.started]


def run_guide(config, data, head: list) -> dict:
    keras.utils.set_random_seed(config.seed)
    model = guide_model(config, data.num_classes, head)
    compile_for(model, make_optimizer(config.train.phase1, config.train.phase1.learning_rate), False)
    common = dict(image_size=input_size(config.model), batch_size=config.data.batch_size, seed=config.seed,
                  cache="memory")
    # Built after seeding, as fit_two_phase does: the same shuffled batches in the same order.
    train = data.dataset("train", training=True, **common)
    val = data.dataset("val", training=False, **common)
    epochs = EpochTimes()
    cpu, started = time.process_time(), time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=config.train.phase1.epochs, callbacks=[epochs],
                        verbose=0)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
            "first_epoch_seconds": epochs.seconds[0],
            "median_epoch_seconds": statistics.median(epochs.seconds[1:] or epochs.seconds),
            "val_accuracy": history.history["val_accuracy"][-1],
            "best_val_accuracy": max(history.history["val_accuracy"])}


def run_keras_tl(config, data, workdir: Path, head: list, trial: str) -> dict:
    keras.utils.set_random_seed(config.seed)
    model = build_classifier(config.model, data.num_classes)
    model.get_layer("tl_predictions").set_weights(head)
    run = RunFolder(workdir / "trials" / trial)
    shutil.rmtree(run.path, ignore_errors=True)  # the benchmark's own scratch folder
    run.ensure()
    marks = {}

    def log(message: str) -> None:
        marks.setdefault("features" if "computing base features" in message else
                         "head" if "on cached features" in message else "other", (time.perf_counter(),
                                                                                  time.process_time()))

    keras.utils.set_random_seed(config.seed)
    cpu, started = time.process_time(), time.perf_counter()
    fit_two_phase(model, data, config, run, log=log)
    ended, cpu_ended = time.perf_counter(), time.process_time()
    rows = read_history(run.history_file)
    return {"seconds": ended - started, "cpu_seconds": cpu_ended - cpu,
            "feature_seconds": marks["head"][0] - marks["features"][0],
            "feature_cpu_seconds": marks["head"][1] - marks["features"][1],
            "head_seconds": ended - marks["head"][0], "head_cpu_seconds": cpu_ended - marks["head"][1],
            "val_accuracy": float(rows[-1]["val_accuracy"]),
            "best_val_accuracy": max(float(r["val_accuracy"]) for r in rows)}


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    guide = statistics.median(r["seconds"] for r in rows if r["recipe"] == GUIDE)
    for name in dict.fromkeys(r["recipe"] for r in rows):
        trials = [r for r in rows if r["recipe"] == name]
        entry = {"recipe": name, "trials": len(trials)}
        for key in trials[0]:
            if key not in ("recipe", "trial"):
                entry[key] = round(statistics.median(r[key] for r in trials), 4)
        entry["speedup_vs_guide"] = round(guide / entry["seconds"], 2)
        out.append(entry)
    return out


def markdown(payload: dict) -> str:
    guide, cached = (next(r for r in payload["summary"] if r["recipe"] == name) for name in (GUIDE, CACHED))
    goals = [
        ("cached phase 1 vs the guide's", f"{cached['speedup_vs_guide']:.2f}x faster", ">= 8x"),
        ("feature extraction vs one guide epoch (median of epochs 2-N)",
         f"{cached['feature_seconds']:.1f} s vs {guide['median_epoch_seconds']:.1f} s = "
         f"{cached['feature_seconds'] / guide['median_epoch_seconds']:.2f}x", "<= 1.0x"),
        (f"the head's {payload['epochs']} epochs vs feature extraction",
         f"{cached['head_seconds']:.1f} s vs {cached['feature_seconds']:.1f} s = "
         f"{cached['head_seconds'] / cached['feature_seconds']:.1%}", "<= 10 %"),
        ("validation accuracy, last epoch (cached - guide)",
         f"{100 * (cached['val_accuracy'] - guide['val_accuracy']):+.2f} points", "within 0.5 point"),
    ]
    lines = [
        f"# Phase 1: cached features vs the Keras guide's recipe, {payload['image_size']} px",
        "",
        f"`python -m benchmarks.phase1_cached_vs_guide`: {payload['epochs']} epochs of phase 1 (frozen base, head "
        f"only) on Fashion-MNIST ({payload['train_images']} train / {payload['val_images']} val images), "
        f"{payload['backbone']} with its ImageNet weights at {payload['image_size']} px, batch 32, no augmentation; "
        "same split, batch order, initial head and seed for both recipes. Numbers from "
        f"[{payload['name']}.json]({payload['name']}.json) (per trial: [{payload['name']}.csv]({payload['name']}.csv)).",
        "",
        machine_line(payload["machine_before"], payload["machine_after"]),
        "",
        "| recipe | trials | wall s | CPU s | speedup vs guide | first epoch s | median epoch s | features s "
        "(CPU s) | head s (CPU s) | val accuracy (last) | best val accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in payload["summary"]:
        split = (f"{r['feature_seconds']:.1f} ({r['feature_cpu_seconds']:.0f}) | {r['head_seconds']:.1f} "
                 f"({r['head_cpu_seconds']:.0f})" if "feature_seconds" in r else "- | -")
        epochs = (f"{r['first_epoch_seconds']:.1f} | {r['median_epoch_seconds']:.1f}"
                  if "median_epoch_seconds" in r else "- | -")
        lines.append(f"| {r['recipe']} | {r['trials']} | {r['seconds']:.1f} | {r['cpu_seconds']:.0f} | "
                     f"{r['speedup_vs_guide']:.2f} | {epochs} | {split} | {r['val_accuracy']:.4f} | "
                     f"{r['best_val_accuracy']:.4f} |")
    lines += ["", "| goal | measured | target |", "|---|---|---|"]
    lines += [f"| {what} | {measured} | {target} |" for what, measured, target in goals]
    lines += ["", "The guide's first epoch also decodes every image into its memory cache; keras_tl's extraction "
              "decodes every image once as well (its one pass needs no cache). Over E epochs the cached path can be "
              "at most about E times faster: the guide runs the base over the images once per epoch, the cached "
              "path once in all, then pays for the head's epochs and keras_tl's per-epoch checkpoints.", ""]
    return "\n".join(lines)


def setup(args):
    """The manifest, config, prepared data and initial head weights every recipe starts from."""
    workdir = args.workdir.resolve()
    manifest = write_manifest(workdir / f"fashion-mnist-{args.per_class}-{args.val_per_class}", args.per_class, SEED,
                              val_per_class=args.val_per_class)
    config = experiment(manifest, workdir, args)
    data = prepare_data(config.data, RunFolder(workdir / "phase1-data").ensure(), seed=config.seed, multi_label=False)
    keras.utils.set_random_seed(config.seed)
    head = build_classifier(config.model, data.num_classes).get_layer("tl_predictions").get_weights()
    return workdir, config, data, head


def run_one(args) -> None:
    """One recipe in this (fresh) process; its row goes to --row-file."""
    workdir, config, data, head = setup(args)
    row = (run_guide(config, data, head) if args.recipe == GUIDE else
           run_keras_tl(config, data, workdir, head, f"cached{args.trial}"))
    args.row_file.write_text(json.dumps(row), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("runs/benchmarks/phase1"))
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--val-per-class", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--trials", type=int, default=1, help="alternating trials of each recipe")
    parser.add_argument("--recipe", choices=(GUIDE, CACHED), help=argparse.SUPPRESS)  # a child process's recipe
    parser.add_argument("--trial", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--row-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.recipe:
        return run_one(args)
    workdir, config, data, _ = setup(args)
    before = machine()
    print(f"{len(data.splits['train'])} train / {len(data.splits['val'])} val images, {args.backbone} at "
          f"{args.image_size}px, {args.epochs} epochs, {before['cpu_count']} CPUs", flush=True)
    rows = []
    for trial in range(1, args.trials + 1):
        for name in (GUIDE, CACHED):
            # Each recipe in a fresh process, as a user's training runs: run after another training in the same
            # process, the cached path's feature extraction took 102.6 s instead of 74.7 s (same data, same code).
            row_file = workdir / f"row-{trial}-{name == CACHED}.json"
            subprocess.run([sys.executable, "-m", "benchmarks.phase1_cached_vs_guide", *sys.argv[1:], "--recipe",
                            name, "--trial", str(trial), "--row-file", str(row_file)], check=True)
            rows.append({"recipe": name, "trial": trial, **json.loads(row_file.read_text(encoding="utf-8"))})
            print(f"  {name}, trial {trial}: {rows[-1]['seconds']:.1f} s, "
                  f"val accuracy {rows[-1]['val_accuracy']:.4f}", flush=True)

    summary = summarize(rows)
    print()
    print_table(summary, ["recipe", "seconds", "cpu_seconds", "speedup_vs_guide", "val_accuracy"])
    name = f"phase1_cached_vs_guide_{args.backbone}_{args.image_size}px"
    result = {"benchmark": "phase1_cached_vs_guide", "name": name, "backbone": args.backbone, "epochs": args.epochs,
              "image_size": args.image_size, "train_images": len(data.splits["train"]),
              "val_images": len(data.splits["val"]), "machine_before": before, "machine_after": machine(),
              "summary": summary}
    paths = write_results(name, result, rows)
    (RESULTS_DIR / f"{name}.md").write_text(markdown(result), encoding="utf-8")
    print(f"\nwrote {paths[0]}, {paths[1]} and {name}.md")


if __name__ == "__main__":
    main()
