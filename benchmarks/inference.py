"""Inference side by side: Keras predict, tf.function, LiteRT and ONNX Runtime -- latency at batch 1, throughput
at batch 32.

It reuses keras_tl's runtime for the artifacts (keras_tl.edge: quantized inputs converted with the artifact's own
parameters, ONNX Runtime sessions with keras_tl's settings), export's serving-style tf.function around the Keras
model, and its timing rule (warm-up, then p50/p90 over N runs). At batch 32 ONNX Runtime takes the batch in one
call; a .tflite file holds one image, so LiteRT runs 32 invokes. The run's model.keras is timed, and so is every fp32/int8 .tflite and .onnx
artifact listed in RUN_DIR/export/export_report.json (``keras-tl export RUN_DIR`` writes them).

    python -m benchmarks.inference RUN_DIR [--runs 30] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks.common import machine, print_table, write_results  # noqa: E402
from keras_tl.export import predictor_for  # noqa: E402
from keras_tl.export.benchmark import keras_predict, latency_ms  # noqa: E402
from keras_tl.config.schema import BenchmarkConfig  # noqa: E402
from keras_tl.models import IMAGE_INPUT, load_trained_model  # noqa: E402
from keras_tl.run import RunFolder  # noqa: E402

BATCHES = (1, 32)
PRECISIONS = ("fp32", "int8")


def exported_artifacts(run: RunFolder) -> list[tuple[str, Path]]:
    """(row name, file) of the passed fp32 and int8 artifacts in the run's export report."""
    report = run.export_dir / "export_report.json"
    if not report.is_file():
        return []
    entries = json.loads(report.read_text(encoding="utf-8"))["artifacts"]
    return [(f"{'LiteRT' if e['format'] == 'tflite' else 'ORT'} {e['precision']}", run.path / e["path"])
            for e in entries if e["precision"] in PRECISIONS and e["path"] and e["passed"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--runs", type=int, default=30, help="timed runs at batch 1 (a third of it at batch 32)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    before = machine()
    run = RunFolder(args.run_dir)
    model = load_trained_model(run.require_model())
    size = int(model.inputs[0].shape[1])
    runners = {"Keras predict": lambda x: model.predict(x[IMAGE_INPUT], verbose=0, batch_size=len(x[IMAGE_INPUT])),
               "tf.function": keras_predict(model)}
    artifacts = exported_artifacts(run)
    for name, path in artifacts:
        model = predictor_for(path, threads=args.threads).model
        runners[name] = lambda inputs, model=model: model.run(inputs, batched=True)
    rows = []
    for batch in BATCHES:
        sample = {IMAGE_INPUT: np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")}
        settings = BenchmarkConfig(runs=args.runs if batch == 1 else max(args.runs // 3, 5), warmup=3,
                                   threads=args.threads)
        for name, predict in runners.items():
            try:
                rows_out = len(np.asarray(predict(sample)))
                if rows_out != batch:
                    raise ValueError(f"{rows_out} predictions for a batch of {batch}")
                p50, p90 = latency_ms(predict, sample, settings)
            except Exception as err:  # noqa: BLE001 - e.g. an artifact with a fixed batch of 1: say so, go on
                rows.append({"runtime": name, "batch": batch, "note": f"not run: {str(err).splitlines()[0][:120]}"})
                continue
            rows.append({"runtime": name, "batch": batch, "latency_ms_p50": p50, "latency_ms_p90": p90,
                         "images_per_s": round(batch / p50 * 1000, 1)})
            print(f"  {name}, batch {batch}: {p50:.2f} ms", flush=True)
    if not artifacts:
        print(f"\nno exported artifacts: LiteRT and ORT rows need 'keras-tl export {run.path}' first")
    print()
    print_table(rows, ["runtime", "batch", "latency_ms_p50", "latency_ms_p90", "images_per_s", "note"])
    result = {"benchmark": "inference", "model": f"{model.name}, {size} px", "threads": args.threads,
              "artifacts": [path.name for _, path in artifacts], "machine_before": before,
              "machine_after": machine()}
    paths = write_results("inference", result, rows)
    print(f"\nwrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
