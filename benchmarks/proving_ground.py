"""The proving ground: Fashion-MNIST on a real ImageNet base, evaluated on all 10,000 test images.

Side by side in one run:
1. the seed recipe written plainly in Keras (the Keras transfer-learning guide: nested frozen base + GAP + Dense,
   then the top of the base unfrozen at 1e-5 with BatchNorm frozen), and
2. ``keras-tl train`` with its defaults (only the data, the base and the input size set),
then every artifact of the keras-tl run: ``keras-tl export --qat`` (TFLite fp32/fp16/dynamic/int8, ONNX fp32/int8,
QAT int8) and ``keras-tl export --prune 0.5 --qat`` (50 % pruned fp32 and int8, prune + QAT int8), each verified
and scored on the 10,000 test images (export.verify_samples=10000: the test split is verified first, in full).

Data: Debian's ``dataset-fashion-mnist`` (apt-get install dataset-fashion-mnist): N training images per class drawn
with the seed from the 60,000 training images, 50 per class of the rest for validation, all 10,000 test images.

    python -m benchmarks.proving_ground --per-class 100 --size 224 [--backbone efficientnet_lite0]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.common import RESULTS_DIR, machine, machine_line, print_table, write_results  # noqa: E402
from benchmarks.fashion_mnist import CLASSES, write_manifest  # noqa: E402

PHASE_EPOCHS = (5, 5)  # keras-tl's defaults for train.phase1.epochs / train.phase2.epochs


def plain_keras_recipe(manifest: Path, backbone: str, size: int, seed: int) -> dict:
    """The Keras guide's two phases, with the same base constructor keras_tl uses and no keras_tl data code."""
    import keras
    import tensorflow as tf

    from keras_tl.models import get_backbone

    keras.utils.set_random_seed(seed)
    with manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    def dataset(split: str, shuffle: bool) -> tf.data.Dataset:
        chosen = [r for r in rows if r["split"] == split]
        paths = [str(manifest.parent / r["image"]) for r in chosen]
        labels = [CLASSES.index(r["label"]) for r in chosen]
        ds = tf.data.Dataset.from_tensor_slices((paths, labels))
        if shuffle:
            ds = ds.shuffle(len(paths), seed=seed)

        def load(path, label):
            image = tf.io.decode_png(tf.io.read_file(path), channels=3)
            return tf.image.resize(image, (size, size), antialias=True), label

        return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(32).prefetch(tf.data.AUTOTUNE)

    spec = get_backbone(backbone)
    base = spec.constructor(include_top=False, weights="imagenet", input_shape=(size, size, 3),
                            **spec.constructor_kwargs)
    base.trainable = False
    inputs = keras.Input((size, size, 3))
    x = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    model = keras.Model(inputs, keras.layers.Dense(len(CLASSES), activation="softmax")(x))
    train, val, test = dataset("train", True), dataset("val", False), dataset("test", False)
    timings = {}
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(train, validation_data=val, epochs=PHASE_EPOCHS[0], verbose=2)
    timings["phase1_seconds"] = time.perf_counter() - started
    boundary = next(i for i, layer in enumerate(base.layers) if layer.name.startswith(spec.fine_tune_from))
    base.trainable = True
    for i, layer in enumerate(base.layers):
        layer.trainable = i >= boundary and not isinstance(layer, keras.layers.BatchNormalization)
    model.compile(keras.optimizers.Adam(1e-5), "sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(train, validation_data=val, epochs=PHASE_EPOCHS[1], verbose=2)
    timings["phase2_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    _, accuracy = model.evaluate(test, verbose=0)
    timings["evaluate_seconds"] = time.perf_counter() - started
    return {"recipe": "plain Keras (guide)", "test_accuracy": float(accuracy), **timings}


def keras_tl_train(manifest: Path, workdir: Path, backbone: str, size: int, seed: int) -> tuple[dict, Path]:
    import keras_tl
    from keras_tl.config import load_config

    config = load_config(name="proving", output_dir=str(workdir / "runs"), seed=seed,
                         data={"source": str(manifest)}, model={"backbone": backbone, "input_size": size})
    marks = {}

    def log(line: str) -> None:
        for phase in ("phase 1", "phase 2"):
            if line.startswith(phase) and phase not in marks:
                marks[phase] = time.perf_counter()
        print(line, flush=True)

    started = time.perf_counter()
    run = keras_tl.train_model(config, overwrite=True, log=log)
    ended = time.perf_counter()
    metrics = json.loads(run.metrics_file.read_text(encoding="utf-8"))["test"]
    phase1_start = marks.get("phase 1", started)
    phase2_start = marks.get("phase 2", ended)
    return {"recipe": "keras-tl train (defaults)", "test_accuracy": metrics["accuracy"],
            "phase1_seconds": phase2_start - phase1_start, "phase2_seconds": ended - phase2_start,
            "total_seconds": ended - started}, run.path


def export(run: Path, *flags: str) -> dict:
    command = [sys.executable, "-m", "keras_tl", "export", str(run), *flags, "-o", "export.verify_samples=10000",
               "-o", "export.keep_failed=true"]
    print("$", " ".join(command[2:]), flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, text=True, capture_output=True)
    print(result.stdout[-4000:], result.stderr[-2000:], flush=True)
    report = json.loads((run / "export" / "export_report.json").read_text(encoding="utf-8"))
    report["seconds"] = time.perf_counter() - started
    report["exit_code"] = result.returncode
    return report


PRUNED_ARTIFACTS = ("model_fp32.tflite", "model_int8.tflite", "model_qat_int8.tflite")


def artifact_rows(report: dict, run: Path, fp32_gzip: int, keras_accuracy: float, label: str,
                  only: tuple = ()) -> list[dict]:
    """``only``: the file names this export built (it also re-verifies older files, against its new model)."""
    rows = []
    for entry in report["artifacts"]:
        if only and Path(entry.get("path") or "").name.removesuffix(".failed") not in only:
            continue
        path = run / entry["path"] if entry.get("path") else None
        gz = len(gzip.compress(path.read_bytes())) if path and path.is_file() else None
        rows.append({
            "export": label, "artifact": entry.get("path") or f"{entry['format']} {entry['precision']}",
            "status": entry["status"], "accuracy": entry.get("accuracy"),
            "drop_points": None if entry.get("accuracy") is None else 100 * (keras_accuracy - entry["accuracy"]),
            "agreement": entry.get("top1_agreement"), "agreement_95": entry.get("agreement_interval"),
            "size_bytes": entry.get("size_bytes"), "gzip_bytes": gz,
            "gzip_x_fp32": None if gz is None else gz / fp32_gzip, "latency_ms_p50": entry.get("latency_ms_p50"),
            "runtime": entry.get("runtime")})
    return rows


def markdown(payload: dict, rows: list[dict]) -> str:
    """The results as a page: the two recipes, then every artifact against the Keras fp32 model."""
    m, args = payload["machine"], payload["args"]
    lines = [f"# Proving ground: {args['backbone']} at {args['size']} px, Fashion-MNIST {args['per_class']} per class",
             "", f"{machine_line(m)} Accuracy on all {payload['test_images']:,} test images. Written by "
             "`python -m benchmarks.proving_ground` (raw numbers in the .json and .csv beside this page).", "",
             "| recipe | test accuracy | phase 1 s | phase 2 s |", "|---|---|---|---|"]
    lines += [f"| {r['recipe']} | {r['test_accuracy']:.4f} | {_num(r['phase1_seconds'], '.0f')} | "
              f"{_num(r['phase2_seconds'], '.0f')} |" for r in payload["recipes"]]
    lines += ["", f"Keras fp32 reference: {payload['keras_fp32_accuracy']:.4f}. Drop in points vs that model; "
              "agreement with the model each file was converted from (the pruned / QAT Keras model for those files).",
              "", "| export | artifact | status | accuracy | drop (points) | agreement [95 %] | gzip x fp32 | "
              "latency p50 ms |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        interval = r.get("agreement_95") or [None, None]
        agreement = "-" if r["agreement"] is None else (
            f"{r['agreement']:.4f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval[0] is not None else ""))
        lines.append(f"| {r['export']} | {r['artifact']} | {r['status']} | {_num(r['accuracy'], '.4f')} | "
                     f"{_num(r['drop_points'], '.2f')} | {agreement} | {_num(r['gzip_x_fp32'], '.3f')} | "
                     f"{_num(r['latency_ms_p50'], '.2f')} |")
    return "\n".join(lines) + "\n"


def _num(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=Path("runs/proving-ground"))
    args = parser.parse_args()
    name = f"proving_ground_{args.backbone}_{args.size}px_{args.per_class}"
    workdir = args.workdir / name
    manifest = write_manifest(args.workdir / f"fashion-mnist-{args.per_class}", args.per_class, args.seed)
    started = time.perf_counter()
    recipes = [plain_keras_recipe(manifest, args.backbone, args.size, args.seed)]
    keras_tl_result, run = keras_tl_train(manifest, workdir, args.backbone, args.size, args.seed)
    recipes.append(keras_tl_result)
    quantized = export(run, "--qat")
    shutil.copy(run / "export" / "export_report.json", workdir / "export_report_quantized.json")
    fp32 = next(e for e in quantized["artifacts"] if e["format"] == "tflite" and e["precision"] == "fp32")
    fp32_gzip = len(gzip.compress((run / fp32["path"]).read_bytes()))
    keras_accuracy = quantized["keras_accuracy"]
    rows = artifact_rows(quantized, run, fp32_gzip, keras_accuracy, "export --qat")
    pruned = export(run, "--prune", "0.5", "--qat", "--formats", "tflite", "--quantize", "fp32,int8")
    rows += artifact_rows(pruned, run, fp32_gzip, keras_accuracy, "export --prune 0.5 --qat", PRUNED_ARTIFACTS)
    settings = {k: str(v) for k, v in vars(args).items() if k != "workdir"}  # a local path says nothing
    payload = {"machine": machine(), "args": settings, "recipes": recipes,
               "keras_fp32_accuracy": keras_accuracy, "test_images": quantized["samples"],
               "export_seconds": {"quantized": quantized["seconds"], "pruned": pruned["seconds"]},
               "export_exit_codes": {"quantized": quantized["exit_code"], "pruned": pruned["exit_code"]},
               "compression": {"quantized": quantized.get("compression"), "pruned": pruned.get("compression")},
               "seconds": time.perf_counter() - started}
    print_table(recipes, ["recipe", "test_accuracy", "phase1_seconds", "phase2_seconds"])
    print_table(rows, ["export", "artifact", "status", "accuracy", "drop_points", "agreement", "gzip_x_fp32",
                       "latency_ms_p50"])
    for path in write_results(name, payload, rows):
        print(path)
    (RESULTS_DIR / f"{name}.md").write_text(markdown(payload, rows), encoding="utf-8")
    print(RESULTS_DIR)


if __name__ == "__main__":
    main()
