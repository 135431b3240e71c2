"""Accuracy and size of every compression of one real classifier: fp32, PTQ int8, QAT int8, pruned 50 % (+ int8).

The classifier is the offline quickstart's (EfficientNet-Lite0 with ImageNet weights, 128 px, easy-VQA's shape
pictures), or with ``--backbone efficientnetb0`` the same quickstart with an EfficientNetB0 base (its ImageNet
weights need network); every artifact is scored on that run's test split. The committed compression.* and
compression_efficientnetb0.* results predate the ImageNet quickstart: they were measured on MobileNetV2 alpha 0.35
at 64 px and EfficientNetB0 at 64 px, both pretrained from scratch on easy-VQA pictures (as each file says).
Claims about real bases come from benchmarks/proving_ground.py.

    python benchmarks/compression.py [--backbone efficientnetb0] [--work DIR] [-o export.prune_epochs=4 ...]

Writes benchmarks/results/compression_<backbone>.json and .md; a quickstart run already under --work is reused.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path
from typing import Optional

import numpy as np

from keras_tl.config import load_config
from keras_tl.data import load_images, load_prepared
from keras_tl.export.tfmot import prune_run_model, train_qat_model
from keras_tl.export.tfmot.finetune import split_images
from keras_tl.export.tfmot.pipeline import gzip_size, top1_agreement
from keras_tl.models import input_size, load_trained_model
from keras_tl.quickstart import run_quickstart
from keras_tl.run import RunFolder
# The converter and runner the tests use: a model converted and run exactly as export converts and verifies.
from tests.support.tfmot import accuracy, run_tflite, tflite_file

RESULTS = Path(__file__).with_name("results")
# The quickstart config's base, or another one with its registry defaults.
QUICKSTART_OVERRIDES = {
    "efficientnet_lite0": [],
    "efficientnetb0": ["model.backbone=efficientnetb0"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", choices=sorted(QUICKSTART_OVERRIDES), default="efficientnet_lite0")
    parser.add_argument("--work", help="where the quickstart run lives (default runs/bench-compression[-BACKBONE])")
    parser.add_argument("-o", "--override", action="append", default=[], help="export.* config override")
    parser.add_argument("--prune", type=float, default=0.5, help="target sparsity")
    args = parser.parse_args()
    started = time.time()

    suffix = f"_{args.backbone}"
    work = Path(args.work or f"runs/bench-compression{suffix.replace('_', '-')}")
    run = RunFolder(work / "quickstart")
    if not run.model_file.is_file():
        run = run_quickstart(work, overrides=QUICKSTART_OVERRIDES[args.backbone])
    cfg = load_config(run.config_file, overrides=[f"export.prune={args.prune}", *args.override])
    data = load_prepared(run, cfg.data, cfg.model.multi_label)
    model = load_trained_model(run.model_file)
    size = input_size(cfg.model)
    test, targets = load_images(data.paths("test"), size), data.targets("test")
    representative = split_images(data, cfg, "train", cfg.export.representative_samples)
    reference = model.predict(test, verbose=0)
    rows, timings = [], {}
    files = work / "compression_artifacts"  # every file measured here, rebuilt on each run
    shutil.rmtree(files, ignore_errors=True)
    files.mkdir(parents=True)

    def add(name: str, path: Path, outputs: Optional[np.ndarray] = None, **extra) -> None:
        artifact = path.read_bytes()
        outputs = run_tflite(path, test) if outputs is None else outputs
        rows.append({"artifact": name, "accuracy": accuracy(outputs, targets), "size_bytes": len(artifact),
                     "gzip_bytes": gzip_size(artifact),
                     "top1_agreement_with_keras_fp32": top1_agreement(outputs, reference), **extra})
        print(f"{name}: accuracy {rows[-1]['accuracy']:.3f}, {len(artifact):,} bytes, gzip {rows[-1]['gzip_bytes']:,}")

    def qat(source, config, name: str, filename: str) -> None:
        trained = train_qat_model(source, data, config)
        path = tflite_file(trained.model, files / filename, "int8", representative, config.export.int8_image_input)
        outputs, keras_outputs = run_tflite(path, test), np.asarray(trained.model.predict(test, verbose=0))
        add(name, path, outputs, qat_keras_accuracy=accuracy(keras_outputs, targets),
            agreement_with_qat_keras=top1_agreement(keras_outputs, outputs))

    def timed(key, fn, *a, **kw):
        start = time.time()
        out = fn(*a, **kw)
        timings[key] = round(time.time() - start, 1)
        return out

    rows.append({"artifact": "Keras fp32 (reference)", "accuracy": accuracy(reference, targets)})
    add("TFLite fp32", timed("convert_fp32_s", tflite_file, model, files / "fp32.tflite", "fp32"))
    add("TFLite PTQ int8", timed("convert_ptq_int8_s", tflite_file, model, files / "ptq.tflite", "int8", representative))

    no_prune = cfg.model_copy(update={"export": cfg.export.model_copy(update={"prune": None})})
    timed("qat_s", qat, model, no_prune, "TFLite QAT int8", "qat.tflite")

    pruned = timed("prune_s", prune_run_model, model, data, cfg)
    label = f"pruned {args.prune:.0%}"
    add(f"TFLite fp32, {label}", tflite_file(pruned.model, files / "pruned_fp32.tflite", "fp32"))
    add(f"TFLite PTQ int8, {label}", tflite_file(pruned.model, files / "pruned_ptq.tflite", "int8", representative))
    timed("prune_qat_s", qat, pruned.model, cfg, f"TFLite QAT int8, {label} (sparsity-preserving)",
          "pruned_qat.tflite")

    report = {
        "dataset": f"easy-VQA shapes (quickstart): {len(data.splits['train'])} train / {len(targets)} test images",
        "model": f"{cfg.model.backbone}{f' alpha {cfg.model.alpha}' if cfg.model.alpha else ''} at {size}px",
        "export_settings": cfg.export.model_dump(include={"prune", "prune_epochs", "prune_learning_rate",
                                                          "qat_epochs", "qat_learning_rate",
                                                          "representative_samples", "int8_image_input"}),
        "sparsity": pruned.sparsity,
        "results": rows,
        "timings_s": {**timings, "total": round(time.time() - started, 1)},
        "machine": f"{platform.machine()}, {platform.python_version()}, shared 2-core CPU",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"compression{suffix}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"compression{suffix}.md").write_text(_markdown(report))
    print(f"wrote {RESULTS / f'compression{suffix}.md'}")


def _markdown(report: dict) -> str:
    lines = [f"# Compression benchmark: {report['model']}", "", f"Data: {report['dataset']}.", "",
             "| artifact | test accuracy | size (bytes) | gzip (bytes) | top-1 agreement with Keras fp32 |",
             "|---|---|---|---|---|"]
    for row in report["results"]:
        size = f"{row['size_bytes']:,}" if "size_bytes" in row else ""
        packed = f"{row['gzip_bytes']:,}" if "gzip_bytes" in row else ""
        agree = f"{row['top1_agreement_with_keras_fp32']:.3f}" if "top1_agreement_with_keras_fp32" in row else ""
        lines.append(f"| {row['artifact']} | {row['accuracy']:.3f} | {size} | {packed} | {agree} |")
    sparsity = ", ".join(f"{kind} {v['sparsity']:.3f} ({v['layers']} layers)" for kind, v in report["sparsity"].items())
    lines += ["", f"Achieved sparsity of the pruned kernels: {sparsity}.", "",
              f"Settings: `{json.dumps(report['export_settings'])}`.", "",
              f"Wall time (s, {report['machine']}, other jobs running): `{json.dumps(report['timings_s'])}`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
