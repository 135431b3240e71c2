"""LiteRT vs ONNX Runtime on a real-size model: the fp32 and int8 files of keras_tl's MobileNetV2 classifier at 224 px,
made by export's converters and run by keras_tl's runtime (keras_tl.edge), at batch 1 and 32 (ONNX Runtime takes a
batch in one call; a .tflite file holds one image, so LiteRT runs 32 invokes);
and ONNX Runtime with two of keras_tl's session settings undone: threads that spin-wait between ops (ORT's
default), and no layout pass (ORT_ENABLE_EXTENDED instead of ORT_ENABLE_ALL).

The model has random weights (latency does not depend on them; the int8 files are calibrated on random images).
Rounds are interleaved, since other processes share the CPUs: each row gives the median and the best of the rounds'
p50s.

    python -m benchmarks.onnx_runtime [--threads 2] [--rounds 3] [--work runs/bench-onnx-runtime]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks.common import RESULTS_DIR, machine, machine_line, print_table, write_results  # noqa: E402
from keras_tl.config.schema import BenchmarkConfig  # noqa: E402
from keras_tl.edge.model import open_model  # noqa: E402
from keras_tl.export.benchmark import latency_ms  # noqa: E402

SIZE = 224
LABELS = [f"class_{i}" for i in range(10)]


def build(work: Path) -> dict[str, Path]:
    """model_{fp32,int8}.{tflite,onnx} under ``work``, converted as ``keras-tl export`` converts a run's model."""
    files = {f"{fmt} {precision}": work / f"model_{precision}.{fmt}" for fmt in ("tflite", "onnx")
             for precision in ("fp32", "int8")}
    if all(path.is_file() for path in files.values()):
        return files
    from keras_tl.config.schema import ModelConfig
    from keras_tl.export import onnx_export, tflite
    from keras_tl.export.metadata import attach_metadata
    from keras_tl.models import IMAGE_INPUT, build_classifier

    work.mkdir(parents=True, exist_ok=True)
    model = build_classifier(ModelConfig(backbone="mobilenetv2", weights="none", input_size=SIZE), len(LABELS))
    saved = work / "saved_model"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    rng = np.random.default_rng(0)
    samples = [{IMAGE_INPUT: rng.uniform(0, 255, (1, SIZE, SIZE, 3)).astype("float32")} for _ in range(16)]
    for precision in ("fp32", "int8"):
        converted = tflite.convert(saved, precision, representative=lambda: iter(samples))
        files[f"tflite {precision}"].write_bytes(attach_metadata(
            converted, LABELS, image_input=IMAGE_INPUT, image_size=SIZE, name="timing", description="timing only",
            version="0"))
    onnx_export.convert(model, files["onnx fp32"], opset=17, labels=LABELS, producer="benchmark",
                        saved_model=lambda: saved)
    onnx_export.quantize(files["onnx fp32"], files["onnx int8"], iter(samples), samples=len(samples), labels=LABELS,
                         producer="benchmark", scratch=work)
    return files


VARIANTS = {"spinning": {"level": "ORT_ENABLE_ALL", "spinning": True},
            "ORT_ENABLE_EXTENDED": {"level": "ORT_ENABLE_EXTENDED", "spinning": False}}


def variant(path: Path, threads: int, level: str, spinning: bool):
    """A session with keras_tl's settings (keras_tl.edge.model.onnx_session) but ``level`` and ``spinning``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda inputs: session.run(None, inputs)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("runs/bench-onnx-runtime"))
    args = parser.parse_args()
    before = machine()
    files = build(args.work)
    runners = {}  # (runtime, precision, batch, session settings) -> predict
    for name, path in files.items():
        fmt, precision = name.split()
        model = open_model(path, args.threads)
        runtime = "LiteRT" if fmt == "tflite" else "ORT"
        for batch in (1, 32):
            runners[(runtime, precision, batch, "keras_tl")] = lambda x, m=model: m.run(x, batched=True)
            for session, settings in VARIANTS.items() if fmt == "onnx" else ():
                runners[(runtime, precision, batch, session)] = variant(path, args.threads, **settings)
    rng = np.random.default_rng(0)
    samples = {batch: {"image": rng.uniform(0, 255, (batch, SIZE, SIZE, 3)).astype("float32")} for batch in (1, 32)}
    p50s = {key: [] for key in runners}
    for _ in range(args.rounds):
        for key, predict in runners.items():
            batch = key[2]
            settings = BenchmarkConfig(runs=20 if batch == 1 else 5, warmup=2, threads=args.threads)
            p50s[key].append(latency_ms(predict, samples[batch], settings)[0])
    rows = [{"runtime": runtime, "precision": precision, "batch": batch, "session": session,
             "p50_ms_median": round(float(np.median(p50s[key])), 3), "p50_ms_best": round(min(p50s[key]), 3)}
            for key in sorted(runners, key=lambda k: (k[2], k[3] != "keras_tl", k[3], k[1], k[0]))
            for runtime, precision, batch, session in [key]]
    print_table(rows, ["runtime", "precision", "batch", "session", "p50_ms_median", "p50_ms_best"])
    result = {"benchmark": "onnx_runtime", "model": f"keras_tl MobileNetV2 classifier, {SIZE} px, random weights",
              "threads": args.threads, "rounds": args.rounds, "machine_before": before, "machine_after": machine()}
    paths = write_results("onnx_runtime", result, rows)
    (RESULTS_DIR / "onnx_runtime.md").write_text(markdown(result, rows), encoding="utf-8")
    print(f"\nwrote {paths[0]}, {paths[1]} and {RESULTS_DIR / 'onnx_runtime.md'}")


def markdown(result: dict, rows: list[dict]) -> str:
    lines = ["# LiteRT and ONNX Runtime on one model", "",
             f"`python -m benchmarks.onnx_runtime`: {result['model']}, {result['threads']} threads, "
             f"{result['rounds']} interleaved rounds. Numbers from [onnx_runtime.json](onnx_runtime.json). "
             + machine_line(result["machine_before"], result["machine_after"]), "",
             "| runtime | precision | batch | session | p50 ms (median of rounds) | p50 ms (best round) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['runtime']} | {r['precision']} | {r['batch']} | {r['session']} | {r['p50_ms_median']} | "
              f"{r['p50_ms_best']} |" for r in rows]
    lines += ["", "`keras_tl`: the session keras_tl opens (intra-op threads as asked, one inter-op thread, "
              "ORT_ENABLE_ALL, sequential execution, idle threads sleep); `spinning`: the same with ORT's default "
              "spin-waiting threads (what keras_tl's sessions had before they were set); `ORT_ENABLE_EXTENDED`: the "
              "same without ORT's layout pass. ONNX Runtime takes a batch of 32 in one call; a .tflite file holds "
              "one image, so LiteRT's batch of 32 is 32 invokes.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
