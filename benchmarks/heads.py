"""Fitted heads, few-shot and LP-FT on a real ImageNet base: Fashion-MNIST, all 10,000 test images.

Side by side in one run, EfficientNet-Lite0 (ImageNet) at 224 px:
1. ``keras-tl train``, phase 1 only, with the default SGD head (1,000 and 100 training images per class) and with
   the logistic head (1,000 per class): test accuracy, phase-1 wall time and the head's own fitting time;
2. every fitted head at 1,000 and 100 per class, fitted by the product's ``fit_head`` on the pooled features that
   ``keras-tl features`` wrote (the very features phase 1 computes: the base is frozen, so no base pass repeats);
3. few-shot: the prototype (and logistic) head on k = 1, 5, 10, 20 images per class, 5 seeds, mean and spread;
4. LP-FT: phase 1 + phase 2 (keras-tl's default 5 + 5 epochs) at 100 per class, from the logistic head vs from the
   default SGD head.

    python -m benchmarks.heads [--skip-lpft]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.common import RESULTS_DIR, machine, machine_line, print_table, write_results  # noqa: E402
from benchmarks.fashion_mnist import CLASSES, write_manifest  # noqa: E402

BACKBONE, SIZE, SEED = "efficientnet_lite0", 224, 0
FITTED_HEADS = ("logistic", "linear_svm", "prototype")
SHOTS = (1, 5, 10, 20)
FEW_SHOT_SEEDS = 5


def train(manifest: Path, workdir: Path, name: str, head: str, phase2_epochs: int) -> dict:
    """One ``keras-tl train`` run; wall time per phase from its log lines."""
    import keras_tl
    from keras_tl.config import load_config

    config = load_config(name=name, output_dir=str(workdir / "runs"), seed=SEED, data={"source": str(manifest)},
                         model={"backbone": BACKBONE, "input_size": SIZE},
                         train={"phase1": {"head": head}, "phase2": {"epochs": phase2_epochs}})
    seconds: dict[str, float] = {}

    def log(line: str) -> None:
        found = re.match(r"phase (\d): finished in ([\d.]+) s", line) or re.search(
            r"(fitted) a \w+ head on [\d,]+ cached features in ([\d.]+) s", line)
        if found:
            seconds[found.group(1)] = float(found.group(2))
        print(line, flush=True)

    run = keras_tl.train_model(config, overwrite=True, log=log)
    test = json.loads(run.metrics_file.read_text(encoding="utf-8"))["test"]
    return {"run": run.path, "test_accuracy": test["accuracy"], "macro_f1": test.get("macro_f1"),
            "phase1_seconds": seconds.get("1"), "phase2_seconds": seconds.get("2", 0.0),
            "head_fit_seconds": seconds.get("fitted")}


def features(run: Path, split: str) -> dict:
    out = run / "features" / f"{split}.npz"
    subprocess.run([sys.executable, "-m", "keras_tl", "features", str(run), "--split", split, "--overwrite"],
                   check=True)
    with np.load(out) as data:
        return {key: data[key] for key in data.files}


def per_class_subset(targets: np.ndarray, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(targets == c), k, replace=False)
                           for c in range(len(CLASSES))])


def fitted_accuracy(head: str, train: dict, val: dict, test: dict, rows: np.ndarray) -> tuple[float, float]:
    from keras_tl.train.heads import fit_head

    started = time.perf_counter()
    fitted = fit_head(head, train["features"][rows], train["targets"][rows], len(CLASSES),
                      calibration=(val["features"], val["targets"]), seed=SEED)
    seconds = time.perf_counter() - started
    return float(np.mean(fitted.logits(test["features"]).argmax(1) == test["targets"])), seconds


def markdown(payload: dict) -> str:
    lines = [f"# Fitted heads, few-shot and LP-FT: {BACKBONE} (ImageNet) at {SIZE} px, Fashion-MNIST", "",
             f"{machine_line(payload['machine_before'], payload['machine_after'])} Accuracy on all 10,000 test "
             "images. Written by "
             "`python -m benchmarks.heads` (raw numbers in the .json beside this page).", "",
             "## Heads, phase 1 only (frozen base)", "",
             "| head | images per class | test accuracy | phase 1 s | head fit s | how |", "|---|---|---|---|---|---|"]
    for row in payload["heads"]:
        lines.append(f"| {row['head']} | {row['per_class']} | {row['test_accuracy']:.4f} | "
                     f"{_num(row.get('phase1_seconds'))} | {_num(row.get('head_fit_seconds'), '.2f')} | "
                     f"{row['how']} |")
    lines += ["", "## Few-shot (features of the frozen base, 5 draws of the k images per class)", "",
              "| head | k | mean accuracy | std | min | max |", "|---|---|---|---|---|---|"]
    for row in payload["few_shot"]:
        lines.append(f"| {row['head']} | {row['k']} | {row['mean']:.4f} | {row['std']:.4f} | {row['min']:.4f} | "
                     f"{row['max']:.4f} |")
    if payload.get("lpft"):
        lines += ["", "## LP-FT vs the default (phase 1 + phase 2, 100 per class)", "",
                  "| phase-1 head | test accuracy | phase 1 s | phase 2 s |", "|---|---|---|---|"]
        for row in payload["lpft"]:
            lines.append(f"| {row['head']} | {row['test_accuracy']:.4f} | {row['phase1_seconds']:.0f} | "
                         f"{row['phase2_seconds']:.0f} |")
    lines += ["", "## Goals", ""] + [f"- {goal}" for goal in payload["goals"]]
    return "\n".join(lines) + "\n"


def _num(value, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/.work/heads"))
    parser.add_argument("--skip-lpft", action="store_true")
    args = parser.parse_args()
    before = machine()
    pool = write_manifest(args.workdir / "fmnist_1000", 1000, SEED)
    small = write_manifest(args.workdir / "fmnist_100", 100, SEED)

    heads, runs = [], {}
    for head in ("sgd", "logistic"):
        result = train(pool, args.workdir, f"heads-1000-{head}", head, phase2_epochs=0)
        runs[head] = result.pop("run")
        heads.append({"head": head, "per_class": 1000, "how": "keras-tl train", **result})
    result = train(small, args.workdir, "heads-100-sgd", "sgd", phase2_epochs=0)
    result.pop("run")
    heads.append({"head": "sgd", "per_class": 100, "how": "keras-tl train", **result})

    train_f, val_f, test_f = (features(runs["logistic"], split) for split in ("train", "val", "test"))
    for per_class in (1000, 100):
        rows = per_class_subset(train_f["targets"], per_class, SEED)
        for head in FITTED_HEADS:
            accuracy, seconds = fitted_accuracy(head, train_f, val_f, test_f, rows)
            heads.append({"head": head, "per_class": per_class, "how": "fit_head on keras-tl features",
                          "test_accuracy": accuracy, "head_fit_seconds": seconds})

    few_shot = []
    for head in ("prototype", "logistic"):
        for k in SHOTS:
            scores = [fitted_accuracy(head, train_f, val_f, test_f, per_class_subset(train_f["targets"], k, seed))[0]
                      for seed in range(FEW_SHOT_SEEDS)]
            few_shot.append({"head": head, "k": k, "mean": float(np.mean(scores)), "std": float(np.std(scores)),
                             "min": float(np.min(scores)), "max": float(np.max(scores)), "scores": scores})

    lpft = []
    if not args.skip_lpft:
        for head in ("sgd", "logistic"):
            result = train(small, args.workdir, f"lpft-100-{head}", head, phase2_epochs=5)
            result.pop("run")
            lpft.append({"head": head, **result})

    by = {(row["head"], row["per_class"]): row for row in heads if row["how"] == "keras-tl train"}
    sgd, logistic = by[("sgd", 1000)], by[("logistic", 1000)]
    proto10 = next(row for row in few_shot if row["head"] == "prototype" and row["k"] == 10)
    best_1000 = max(row["test_accuracy"] for row in heads if row["per_class"] == 1000)
    sgd_head_seconds = sgd["phase1_seconds"] - (logistic["phase1_seconds"] - (logistic["head_fit_seconds"] or 0))
    goals = [
        f"logistic reaches the SGD head's accuracy: {logistic['test_accuracy']:.4f} vs {sgd['test_accuracy']:.4f} "
        f"({'met' if logistic['test_accuracy'] >= sgd['test_accuracy'] else 'missed'}); phase-1 time "
        f"{logistic['phase1_seconds']:.0f} s vs {sgd['phase1_seconds']:.0f} s = "
        f"{logistic['phase1_seconds'] / sgd['phase1_seconds']:.2f}x (goal <= 0.20x: "
        f"{'met' if logistic['phase1_seconds'] <= 0.2 * sgd['phase1_seconds'] else 'missed'}); the head alone: "
        f"{logistic['head_fit_seconds']:.1f} s fit vs about {sgd_head_seconds:.0f} s of SGD epochs (phase 1 minus the "
        "logistic run's feature extraction)",
        f"10-shot prototype: {proto10['mean']:.4f} = {proto10['mean'] / best_1000:.2f}x the best 1,000-per-class "
        f"accuracy {best_1000:.4f} (goal >= 0.70x: {'met' if proto10['mean'] >= 0.7 * best_1000 else 'missed'})",
    ]
    if lpft:
        goals.append(f"LP-FT (logistic head, then fine-tune) {lpft[1]['test_accuracy']:.4f} vs default "
                     f"{lpft[0]['test_accuracy']:.4f}: {100 * (lpft[1]['test_accuracy'] - lpft[0]['test_accuracy']):+.2f}"
                     " points (one seed)")
    payload = {"machine_before": before, "machine_after": machine(), "backbone": BACKBONE, "input_size": SIZE,
               "seed": SEED, "heads": heads, "few_shot": few_shot, "lpft": lpft, "goals": goals}
    name = f"heads_{BACKBONE}_{SIZE}px"
    write_results(name, payload, heads)
    (RESULTS_DIR / f"{name}.md").write_text(markdown(payload), encoding="utf-8")
    print_table(heads, ["head", "per_class", "test_accuracy", "phase1_seconds", "head_fit_seconds"])
    print("\n".join(goals))


if __name__ == "__main__":
    main()
