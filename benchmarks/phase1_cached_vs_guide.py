"""Phase 1 (frozen base, train the head), side by side in one run: keras_tl's cached features vs the Keras guide.

The Keras transfer-learning guide's recipe: the pretrained base nested in the model, ``base.trainable = False``,
called with ``training=False``, and ``model.fit`` for N epochs -- the base runs over every image in every epoch.
keras_tl (train.cache_features) runs the base once, then trains the head on the stored features.

Same data (easy-VQA shapes: ~2,850 real pictures, the same split and seeded batch order), same pretrained base,
same head (pooling, dropout 0.2, softmax) with the same initial weights, same optimizer and seed. ImageNet weights
cannot be downloaded here, so the base is pretrained from scratch, as the quickstart does, on easy-VQA's other
~1,900 labelled pictures (disjoint from the benchmark's).
Trials alternate between the recipes so that load from other processes hits both alike.

    python -m benchmarks.phase1_cached_vs_guide [--epochs 10] [--trials 3] [--image-size 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from benchmarks.common import (Timer, easy_vqa_folders, machine, pretrained_base, print_table,  # noqa: E402
                               write_results)
from keras_tl.config import load_config  # noqa: E402
from keras_tl.data import prepare_data  # noqa: E402
from keras_tl.models import build_classifier, copy_base_weights, input_size  # noqa: E402
from keras_tl.run import RunFolder  # noqa: E402
from keras_tl.train import compile_for, fit_two_phase, make_optimizer, read_history  # noqa: E402


def experiment(workdir: Path, args, weights: str = "none"):
    return load_config(name="phase1", output_dir=str(workdir), seed=42, data={
        "source": str(easy_vqa_folders(workdir)["shapes"]), "val_fraction": 0.15, "test_fraction": 0.0,
        "batch_size": 32, "augment": {"flip": "none", "rotation": 0.0, "zoom": 0.0, "contrast": 0.0},
    }, model={"backbone": "mobilenetv2", "alpha": args.alpha, "input_size": args.image_size, "weights": weights,
              "dropout": 0.2}, train={
        "phase1": {"epochs": args.epochs, "learning_rate": 1e-3}, "phase2": {"epochs": 0},
        "early_stopping_patience": 0, "verbose": 0, "cache_features": "on"})


def guide_model(config, weights: Path, num_classes: int, head: list) -> keras.Model:
    """The Keras guide's model: a nested, frozen keras.applications base called with training=False."""
    size = input_size(config.model)
    application = dict(include_top=False, weights=None, alpha=config.model.alpha, input_shape=(size, size, 3))
    base = keras.applications.MobileNetV2(**application)
    copy_base_weights(weights, base.layers, keras.applications.MobileNetV2(**application), what="the guide's base")
    base.trainable = False
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)  # MobileNetV2's preprocess_input
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(config.model.dropout)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.layers[-1].set_weights(head)
    return model


def run_guide(config, data, weights: Path, head: list) -> dict:
    keras.utils.set_random_seed(config.seed)
    model = guide_model(config, weights, data.num_classes, head)
    compile_for(model, make_optimizer(config.train.phase1, config.train.phase1.learning_rate), False)
    common = dict(image_size=input_size(config.model), batch_size=config.data.batch_size, seed=config.seed,
                  cache="memory")
    # Built after seeding, as fit_two_phase does: the same shuffled batches in the same order.
    train = data.dataset("train", training=True, **common)
    val = data.dataset("val", training=False, **common)
    with Timer() as timer:
        history = model.fit(train, validation_data=val, epochs=config.train.phase1.epochs, verbose=0)
    return {"seconds": timer.seconds, "val_accuracy": history.history["val_accuracy"][-1],
            "best_val_accuracy": max(history.history["val_accuracy"])}


def run_keras_tl(config, data, workdir: Path, head: list, trial: str) -> dict:
    keras.utils.set_random_seed(config.seed)
    model = build_classifier(config.model, data.num_classes)
    model.get_layer("tl_predictions").set_weights(head)
    run = RunFolder(workdir / "trials" / trial)
    if run.path.exists():
        import shutil

        shutil.rmtree(run.path)
    run.ensure()
    marks = {}

    def log(message: str) -> None:
        marks.setdefault("features" if "computing base features" in message else
                         "head" if "on cached features" in message else "other", time.perf_counter())

    keras.utils.set_random_seed(config.seed)
    with Timer() as timer:
        fit_two_phase(model, data, config, run, log=log)
    rows = read_history(run.history_file)
    out = {"seconds": timer.seconds, "val_accuracy": float(rows[-1]["val_accuracy"]),
           "best_val_accuracy": max(float(r["val_accuracy"]) for r in rows)}
    if "head" in marks:
        out["feature_seconds"] = marks["head"] - marks["features"]
        out["head_seconds"] = timer.start + timer.seconds - marks["head"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--trials", type=int, default=3, help="alternating trials of each recipe")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--alpha", type=float, default=0.35)
    parser.add_argument("--pretrain-epochs", type=int, default=15)
    parser.add_argument("--no-slow-path", action="store_true", help="skip keras_tl with cache_features: off")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    before = machine()

    weights = pretrained_base(experiment(workdir, args), workdir, epochs=args.pretrain_epochs)
    config = experiment(workdir, args, str(weights))
    data = prepare_data(config.data, RunFolder(workdir / "phase1-data").ensure(), seed=config.seed, multi_label=False)
    keras.utils.set_random_seed(config.seed)
    head = build_classifier(config.model, data.num_classes).get_layer("tl_predictions").get_weights()
    print(f"{len(data.splits['train'])} train / {len(data.splits['val'])} val images, "
          f"MobileNetV2 alpha {args.alpha} at {args.image_size}px, {args.epochs} epochs, {before['cpu_count']} CPUs")

    slow = config.model_copy(deep=True)
    slow.train.cache_features = "off"
    recipes = {"keras guide (base in every step)": lambda i: run_guide(config, data, weights, head),
               "keras_tl cached features": lambda i: run_keras_tl(config, data, workdir, head, f"cached{i}")}
    rows = []
    for trial in range(args.trials):
        for name, recipe in recipes.items():
            rows.append({"recipe": name, "trial": trial + 1, **recipe(trial)})
            print(f"  {rows[-1]['recipe']}, trial {trial + 1}: {rows[-1]['seconds']:.1f} s, "
                  f"val accuracy {rows[-1]['val_accuracy']:.4f}", flush=True)
    if not args.no_slow_path:
        rows.append({"recipe": "keras_tl cache_features: off", "trial": 1,
                     **run_keras_tl(slow, data, workdir, head, "slow")})

    summary = summarize(rows)
    print()
    print_table(summary, ["recipe", "median_seconds", "speedup_vs_guide", "val_accuracy", "best_val_accuracy"])
    result = {"benchmark": "phase1_cached_vs_guide", "epochs": args.epochs, "image_size": args.image_size,
              "alpha": args.alpha, "train_images": len(data.splits["train"]), "val_images": len(data.splits["val"]),
              "machine_before": before, "machine_after": machine(), "summary": summary}
    paths = write_results(f"phase1_cached_vs_guide_{args.image_size}px", result, rows)
    print(f"\nwrote {paths[0]} and {paths[1]}")


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    guide = None
    for name in dict.fromkeys(r["recipe"] for r in rows):
        trials = [r for r in rows if r["recipe"] == name]
        seconds = statistics.median(r["seconds"] for r in trials)
        guide = guide or seconds
        out.append({"recipe": name, "trials": len(trials), "median_seconds": round(seconds, 2),
                    "speedup_vs_guide": round(guide / seconds, 2),
                    "val_accuracy": round(statistics.median(r["val_accuracy"] for r in trials), 4),
                    "best_val_accuracy": round(statistics.median(r["best_val_accuracy"] for r in trials), 4)})
    return out


if __name__ == "__main__":
    main()
