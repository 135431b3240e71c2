"""Inference side by side: Keras predict, tf.function, LiteRT and ONNX Runtime -- latency at batch 1, throughput
at batch 32.

With a run folder, its model.keras is timed, and so is every fp32/int8 .tflite and .onnx artifact that
``keras-tl export RUN_DIR`` listed in export/export_report.json (each in its own runtime: ai_edge_litert's
Interpreter, onnxruntime). Without one, or before exporting, only the Keras rows are measured, on MobileNetV2
(alpha 1.0, 224 px) built with random weights -- latency does not depend on the weights' values.

    python -m benchmarks.inference [RUN_DIR] [--runs 30] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Callable, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks.common import machine, print_table, write_results  # noqa: E402

BATCHES = (1, 32)


def timings(call: Callable[[np.ndarray], object], images: np.ndarray, runs: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        call(images)
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        call(images)
        out.append(time.perf_counter() - start)
    return out


def keras_runners(model) -> dict[str, Callable[[np.ndarray], object]]:
    import tensorflow as tf

    compiled = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return {"keras predict": lambda x: model.predict(x, verbose=0, batch_size=len(x)),
            "tf.function": lambda x: compiled(tf.constant(x)).numpy()}


def litert_runner(path: Path, threads: int, batch: int) -> Callable[[np.ndarray], object]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    detail = interpreter.get_input_details()[0]
    if detail["shape"][0] != batch:
        interpreter.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]])
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    output = interpreter.get_output_details()[0]["index"]

    def run(images: np.ndarray):
        interpreter.set_tensor(detail["index"], _as_input(images, detail["dtype"], detail["quantization"]))
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return run


def onnx_runner(path: Path, threads: int, batch: int) -> Callable[[np.ndarray], object]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    node = session.get_inputs()[0]
    if isinstance(node.shape[0], int) and node.shape[0] != batch:
        raise ValueError(f"its input batch is fixed at {node.shape[0]}")
    dtype = {"tensor(uint8)": np.uint8, "tensor(int8)": np.int8}.get(node.type, np.float32)
    return lambda images: session.run(None, {node.name: images.astype(dtype)})


def _as_input(images: np.ndarray, dtype, quantization) -> np.ndarray:
    scale, zero_point = quantization
    if np.issubdtype(dtype, np.integer) and scale:
        info = np.iinfo(dtype)
        return np.clip(np.round(images / scale + zero_point), info.min, info.max).astype(dtype)
    return images.astype(dtype)


def exported_artifacts(run_dir: Optional[Path]) -> list[dict]:
    """fp32 and int8 artifacts from the run's export report (design.md section 4), if it was exported."""
    report = run_dir / "export" / "export_report.json" if run_dir else None
    if report is None or not report.is_file():
        return []
    entries = json.loads(report.read_text(encoding="utf-8"))
    entries = entries.get("artifacts", entries) if isinstance(entries, dict) else entries
    picked = []
    for entry in entries:
        wanted = isinstance(entry, dict) and entry.get("format") in ("tflite", "onnx")
        if wanted and entry.get("precision") in ("fp32", "int8"):
            path = Path(entry["path"])
            picked.append({**entry, "path": path if path.is_absolute() else report.parent / path})
    return picked


def load_model(run_dir: Optional[Path]):
    import keras

    if run_dir is not None:
        from keras_tl.models import load_trained_model
        from keras_tl.run import RunFolder

        return load_trained_model(RunFolder(run_dir).require_model()), str(run_dir)
    keras.utils.set_random_seed(0)
    from keras_tl.config import load_config
    from keras_tl.models import build_classifier

    config = load_config(model={"backbone": "mobilenetv2", "weights": "none"})
    return build_classifier(config.model, 10), "MobileNetV2 alpha 1.0, 224 px, random weights"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    before = machine()
    model, what = load_model(args.run_dir)
    size = int(model.inputs[0].shape[1])
    artifacts = exported_artifacts(args.run_dir)
    rows = []
    for batch in BATCHES:
        images = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")
        runners = dict(keras_runners(model))
        for entry in artifacts:
            name = f"{'LiteRT' if entry['format'] == 'tflite' else 'ORT'} {entry['precision']}"
            try:
                make = litert_runner if entry["format"] == "tflite" else onnx_runner
                runners[name] = make(entry["path"], args.threads, batch)
            except Exception as err:  # noqa: BLE001 - a row that cannot run says why, the others still run
                rows.append({"runtime": name, "batch": batch, "note": f"not run: {str(err).splitlines()[0][:120]}"})
        for name, run in runners.items():
            seconds = timings(run, images, args.runs if batch == 1 else max(args.runs // 3, 5))
            p50 = statistics.median(seconds)
            rows.append({"runtime": name, "batch": batch, "latency_ms_p50": round(p50 * 1000, 2),
                         "latency_ms_p90": round(float(np.percentile(seconds, 90)) * 1000, 2),
                         "images_per_s": round(batch / p50, 1)})
            print(f"  {name}, batch {batch}: {p50 * 1000:.1f} ms", flush=True)
    if not artifacts:
        print("\nno exported artifacts: LiteRT and ORT rows need 'keras-tl export RUN_DIR' first")
    print()
    print_table(rows, ["runtime", "batch", "latency_ms_p50", "latency_ms_p90", "images_per_s", "note"])
    result = {"benchmark": "inference", "model": what, "image_size": size, "threads": args.threads,
              "artifacts": [str(a["path"]) for a in artifacts], "machine_before": before, "machine_after": machine()}
    paths = write_results("inference", result, rows)
    print(f"\nwrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
