"""Full-int8 recipes for a trained run's model: keras_tl export's LiteRT Quantizer (ai-edge-quantizer) file against
TFLiteConverter post-training quantization and other LiteRT Quantizer recipes, on the run's fp32 TFLite file.

Every file is measured the same way: top-1 agreement with the Keras fp32 model (95 % Wilson interval) and accuracy
on a seeded sample of the run's test split, file size, and LiteRT latency at batch 1 (median of ``--latency-runs``).
Calibration uses the train images export draws (``RunInputs.representative``: the same seeded sample, decoded and
resized as in training). Every int8 file keeps a float32 output; the image input is uint8 (pixel values, scale 1)
where the recipe allows it, float32 pixels 0-255 otherwise.

    python -m benchmarks.int8_recipes RUN_FOLDER [--test-images 10000] [--calibration 300 1000]
        [--work WORK_DIR] [--recipes NAME ...]

The fp32 TFLite file is converted afresh from the run's model.keras (as export converts it) into ``--work``, so the
comparison never depends on what a later export left in the run's export/ folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path
from typing import Callable, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks.common import RESULTS_DIR, machine, machine_line  # noqa: E402

NAME = "int8_recipes"
IMAGE = "image"
THRESHOLD = 0.97
MAX_DROP = 1.0  # accuracy points


# --------------------------------------------------------------------------------------------------- run inputs

class Bench:
    """The run's model, calibration images and test sample, cached under ``work``."""

    def __init__(self, run_dir: Path, work: Path, test_images: int):
        import keras_tl
        from keras_tl.export.inputs import RunInputs

        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        run = keras_tl.RunFolder(run_dir)
        config = keras_tl.load_config(run.config_file)
        self.inputs = RunInputs(run, config)
        self.seed = config.seed
        self.labels = self.inputs.labels
        paths = self.inputs.data.paths("test")
        self.test_count = min(test_images, len(paths))
        order = np.sort(np.random.default_rng(config.seed).permutation(len(paths))[:self.test_count])
        self.targets = self.inputs.data.targets("test")[order]
        self.pixels = self._test_pixels([paths[i] for i in order])
        self.reference = self._keras_probs()
        self._saved_model: Optional[Path] = None

    def _test_pixels(self, paths: list[str]) -> np.ndarray:
        """uint8 [n, size, size, 3]: load_images gives whole levels 0-255, so uint8 holds them exactly."""
        from keras_tl.data.pipeline import load_images

        cache = self.work / f"test_pixels_{len(paths)}.npy"
        if cache.is_file():
            return np.load(cache)
        size = self.inputs.image_size
        out = np.empty((len(paths), size, size, 3), np.uint8)
        for start in range(0, len(paths), 256):
            out[start:start + 256] = load_images(paths[start:start + 256], size).astype(np.uint8)
        np.save(cache, out)
        return out

    def _keras_probs(self) -> np.ndarray:
        cache = self.work / f"keras_probs_{len(self.pixels)}.npy"
        if cache.is_file():
            return np.load(cache)
        from keras_tl.export.benchmark import keras_predict

        predict = keras_predict(self.inputs.model)
        probs = np.concatenate([predict({IMAGE: self.pixels[i:i + 32].astype(np.float32)})
                                for i in range(0, len(self.pixels), 32)])
        np.save(cache, probs)
        return probs

    def representative(self, count: int) -> list[dict]:
        """Export's calibration inputs: batch-1 dicts of ``count`` seeded train images (float pixels 0-255)."""
        return [{IMAGE: np.asarray(s[IMAGE], np.float32)} for s in self.inputs.representative(count)]

    def train_count(self) -> int:
        return len(self.inputs.data.paths("train"))

    def saved_model(self) -> Path:
        if self._saved_model is None:
            from keras_tl.quiet import silenced_stderr

            path = self.work / "saved_model"
            if not (path / "saved_model.pb").is_file():
                with silenced_stderr():
                    self.inputs.model.export(str(path), format="tf_saved_model", verbose=False)
            self._saved_model = path
        return self._saved_model

    def fp32_tflite(self) -> Path:
        from keras_tl.export import tflite

        path = self.work / "model_fp32.tflite"
        if not path.is_file():
            path.write_bytes(tflite.convert(self.saved_model(), "fp32"))
        return path


# --------------------------------------------------------------------------------------------------- recipes

def converter_int8(bench: Bench, count: int) -> bytes:
    """TFLiteConverter full-integer PTQ (export.int8_quantizer: converter), per-channel weights, uint8 input."""
    from keras_tl.export import tflite

    return tflite.convert(bench.saved_model(), "int8", representative=lambda: iter(bench.representative(count)),
                          image_input=IMAGE, int8_image_input="uint8", granularity="per_channel")


def export_int8(bench: Bench, fp32: bytes, count: int) -> bytes:
    """keras_tl export's int8 (export.int8_quantizer: litert): LiteRT Quantizer a8w8, per-channel weights,
    ranges from the calibration's extremes, uint8 pixel input."""
    from keras_tl.export.litert_quantizer import Int8Quantizer

    return Int8Quantizer(fp32, bench.representative(count)).quantize("per_channel", image_input=IMAGE)


def _aeq():
    try:
        from ai_edge_quantizer import calibrator, qtyping, quantizer, recipe  # noqa: F401
    except ImportError as err:
        raise SystemExit(f"ai-edge-quantizer is not importable ({err}); see this script's docstring") from None
    return calibrator, qtyping, quantizer, recipe


def aeq_recipe(activation_bits: int = 8, weight_granularity: str = "CHANNELWISE", weight_algorithm: str = "",
               float_scopes: tuple[str, ...] = (), float_io: bool = True) -> list[dict]:
    """A static LiteRT Quantizer recipe (as its static_wi8_ai{8,16} builds it) as JSON-like dicts.

    ``float_io``: the INPUT and OUTPUT ops stay float32 (the default recipe quantizes the model's input and output
    too). ``float_scopes``: regexes of op output-tensor names whose ops stay float32 (mixed precision)."""
    entry = {
        "regex": ".*", "operation": "*", "algorithm_key": weight_algorithm or "min_max_uniform_quantize",
        "op_config": {
            "activation_tensor_config": {"num_bits": activation_bits, "symmetric": activation_bits == 16,
                                         "granularity": "TENSORWISE", "dtype": "INT"},
            "weight_tensor_config": {"num_bits": 8, "symmetric": True, "granularity": weight_granularity,
                                     "dtype": "INT"},
            "compute_precision": "INTEGER", "explicit_dequantize": False, "skip_checks": False,
            "min_weight_elements": 0}}
    recipe = [entry]
    if float_io:
        recipe += [{"regex": ".*", "operation": op, "algorithm_key": "no_quantize"} for op in ("INPUT", "OUTPUT")]
    recipe += [{"regex": scope, "operation": "*", "algorithm_key": "no_quantize"} for scope in float_scopes]
    return recipe


def aeq_calibrate(fp32: bytes, recipe: list[dict], samples: list[dict], update: str = "moving_average",
                  signature: str = "serving_default") -> dict:
    """Tensor ranges (QSVs) from ``samples``. ``update``: 'moving_average' (the quantizer's default, smoothing 0.95
    over per-sample min/max) or 'min_max' (overall extremes, as TFLiteConverter calibrates)."""
    calibrator, _, quantizer, _ = _aeq()
    from ai_edge_quantizer.utils import qsv_utils

    q = quantizer.Quantizer(bytearray(fp32), recipe)
    func = qsv_utils.moving_average_update if update == "moving_average" else qsv_utils.min_max_update
    calib = calibrator.Calibrator(bytearray(fp32), num_threads=2, qsv_update_func=func)
    calib.calibrate({signature: samples}, q._recipe_manager)  # noqa: SLF001 - Quantizer.calibrate hides qsv_update
    return calib.get_model_qsvs()


def aeq_quantize(fp32: bytes, recipe: list[dict], qsvs: dict) -> bytes:
    _, _, quantizer, _ = _aeq()
    q = quantizer.Quantizer(bytearray(fp32), recipe)
    return bytes(q.quantize(qsvs, enable_progress_report=False).quantized_model)


# --------------------------------------------------------------------------------------------------- measuring

def io_types(path: Path) -> tuple[str, str]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    return (np.dtype(it.get_input_details()[0]["dtype"]).name, np.dtype(it.get_output_details()[0]["dtype"]).name)


def measure(bench: Bench, path: Path, threads: int, latency_runs: int, limit: Optional[int] = None) -> dict:
    """``limit``: only the first ``limit`` test images (for files whose kernels are too slow for all of them)."""
    from keras_tl.edge.model import TFLiteModel
    from keras_tl.export.verify import compare

    model = TFLiteModel(path, threads=threads)
    started = time.perf_counter()
    n = min(limit or len(bench.pixels), len(bench.pixels))
    probs = np.concatenate([model.run({IMAGE: bench.pixels[i:min(i + 500, n)]}) for i in range(0, n, 500)])
    seconds = time.perf_counter() - started
    v = compare(probs, bench.reference[:n], bench.targets[:n], bench.labels, multi_label=False, threshold=THRESHOLD)
    keras = compare(bench.reference[:n], bench.reference[:n], bench.targets[:n], bench.labels, multi_label=False,
                    threshold=THRESHOLD).accuracy
    sample = bench.pixels[0].astype(np.float32)
    for _ in range(5):
        model.predict(sample)
    times = [model.predict(sample)[1] for _ in range(latency_runs)]
    input_type, output_type = io_types(path)
    return {"agreement": round(v.top1_agreement, 4), "agreement_95": [round(x, 4) for x in v.agreement_interval],
            "accuracy": round(v.accuracy, 4), "size_mb": round(path.stat().st_size / 1e6, 3),
            "latency_ms": round(float(np.median(times)), 3), "input": input_type, "output": output_type,
            "test_images": n, "keras_accuracy": round(keras, 4), "drop_points": round((keras - v.accuracy) * 100, 2),
            "eval_seconds": round(seconds, 1)}


def latency_rounds(paths: dict[str, Path], threads: int, runs: int, rounds: int) -> dict[str, dict]:
    """Batch-1 latency of every file in interleaved rounds (other processes share the CPUs): per file the median
    of the rounds' medians and the best round's median, in ms."""
    from keras_tl.edge.model import TFLiteModel

    models = {name: TFLiteModel(path, threads=threads) for name, path in paths.items()}
    medians: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, model in models.items():
            sample = np.zeros((model.image_size, model.image_size, 3), np.float32) + 128.0
            for _ in range(5):
                model.predict(sample)
            medians[name].append(float(np.median([model.predict(sample)[1] for _ in range(runs)])))
    return {name: {"latency_ms": round(float(np.median(m)), 3), "latency_best_ms": round(min(m), 3)}
            for name, m in medians.items()}


def snr_ranking(fp32: bytes, quantized: bytes, samples: list[dict], signature: str = "serving_default") -> list:
    """Ops of the fp32 graph ranked by the signal-to-noise ratio (dB) the quantized model loses across each op:
    SNR of the op's input minus SNR of its output, from the quantizer's per-tensor comparison on ``samples``."""
    from ai_edge_quantizer import model_validator
    from ai_edge_quantizer.utils import validation_utils
    from ai_edge_litert import schema_py_generated as schema

    result = model_validator.compare_model(bytearray(fp32), bytearray(quantized), {signature: samples},
                                           [validation_utils.ValidationErrorMetric.SNR], compare_fns=None,
                                           use_xnnpack=True, num_threads=2)
    snr = {}
    for sig_result in [result.get_signature_comparison_result(signature)]:
        for group in (sig_result.input_tensors, sig_result.intermediate_tensors, sig_result.output_tensors):
            for name, metrics in group.items():
                ratio = float(next(iter(metrics.values())) if isinstance(metrics, dict) else metrics)
                snr[name] = min(10 * np.log10(max(ratio, 1e-12)), 100.0)  # a power ratio; identical: 100 dB
    model = schema.ModelT.InitFromPackedBuf(fp32, 0)
    graph = model.subgraphs[0]
    names = [t.name.decode() if isinstance(t.name, bytes) else t.name for t in graph.tensors]
    ops = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        op_name = _op_name(max(code.builtinCode, code.deprecatedBuiltinCode))
        out = names[int(op.outputs[0])]
        ins = [snr[names[int(i)]] for i in op.inputs if int(i) >= 0 and names[int(i)] in snr]
        if out not in snr:
            continue
        if not ins or min(ins) >= 100.0:
            continue  # fed only by exact tensors (uint8 pixels): nothing to gain by keeping it float
        loss = min(ins) - snr[out]
        ops.append({"op": op_name, "output": out, "snr_db": round(snr[out], 2), "snr_loss_db": round(loss, 2)})
    return sorted(ops, key=lambda o: -o["snr_loss_db"])


def _op_name(code: int) -> str:
    from ai_edge_litert import schema_py_generated as schema

    for name, value in vars(schema.BuiltinOperator).items():
        if value == code and not name.startswith("_"):
            return name
    return str(code)


# --------------------------------------------------------------------------------------------------- main

def wilson_text(row: dict) -> str:
    low, high = row["agreement_95"]
    return f"{row['agreement']:.4f} [{low:.3f}, {high:.3f}]"


def write_page(payload: dict, rows: list[dict]) -> Path:
    md = RESULTS_DIR / f"{NAME}.md"
    lines = [f"# Full-int8 recipes: {payload['model']}", "",
             machine_line(payload["machine_before"], payload["machine_after"]), "",
             payload["what"], "",
             "| recipe | calibration images | test images | input / output | agreement [95 %] | accuracy | "
             "drop (points) | size MB | latency ms | agreement >= 0.97, drop <= 1.0 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['recipe']} | {r.get('calibration') or '-'} | - | - | failed: {r['error']} "
                         f"| - | - | - | - | - |")
            continue
        ok = "no" if r["drop_points"] > MAX_DROP else "yes" if r["agreement"] >= THRESHOLD else (
            "interval only" if r["agreement_95"][1] >= THRESHOLD else "no")
        lines.append(f"| {r['recipe']} | {r.get('calibration') or '-'} | {r['test_images']:,} | "
                     f"{r['input']} / {r['output']} | {wilson_text(r)} | {r['accuracy']:.4f} | "
                     f"{r['drop_points']:.2f} | {r['size_mb']:.2f} | {r['latency_ms']:.2f} | {ok} |")
    lines += ["", "'interval only': the point estimate is below 0.97 but the 95 % interval reaches it (export's "
              "verification fails an artifact only when the whole interval lies below the threshold)."]
    if payload.get("float_ops"):
        lines += ["", "Mixed precision ('+ k ops float'): the k ops across which the AEQ a8w8 file loses the most "
                  "signal-to-noise ratio (the quantizer's per-tensor comparison with the fp32 file on 32 calibration "
                  "images; SNR of the op's input minus SNR of its output) stay float32, in this order:", ""]
        lines += [f"{i}. {o['op']} {_short(o['output'])}: output SNR {o['snr_db']:.1f} dB, "
                  f"{o['snr_loss_db']:.1f} dB lost across the op" for i, o in enumerate(payload["float_ops"], 1)]
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md


def _short(tensor_name: str) -> str:
    """The Keras layer of an op's fused output name (e.g. block6a_project_conv)."""
    found = re.search(r"/(\w+?)_\d+/(?:convolution|depthwise|MatMul|BiasAdd)", tensor_name)
    return found.group(1) if found else tensor_name.split(";")[0]


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a trained run folder (model.keras, splits/, config.yaml)")
    parser.add_argument("--test-images", type=int, default=10000)
    parser.add_argument("--calibration", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--work", type=Path, default=Path("runs/bench-int8-recipes"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--slow-test-images", type=int, default=2000,
                        help="test images for a16w8 (int16 kernels are slow): the first of the sample")
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved latency rounds over all files")
    parser.add_argument("--mixed", type=int, nargs="*", default=[1, 3, 6, 10],
                        help="numbers of most SNR-losing ops to keep float (mixed-precision rows)")
    parser.add_argument("--recipes", nargs="*", default=None,
                        help="only these recipe names (default: all); see the 'recipe' column")
    parser.add_argument("--no-write", action="store_true", help="print rows only")
    parser.add_argument("--page-only", action="store_true", help="rewrite the .md from the results .json")
    args = parser.parse_args(argv)
    if args.page_only:
        saved = json.loads((RESULTS_DIR / f"{NAME}.json").read_text(encoding="utf-8"))
        print(write_page(saved, saved["rows"]))
        return

    before = machine()
    bench = Bench(args.run, args.work, args.test_images)
    train = bench.train_count()
    counts = sorted({min(c, train) for c in args.calibration})
    fp32_path = bench.fp32_tflite()
    fp32 = fp32_path.read_bytes()
    keras_acc = float(np.mean(bench.reference.argmax(1) == bench.targets.argmax(1))) if bench.targets.ndim == 2 \
        else float(np.mean(bench.reference.argmax(1) == bench.targets))
    rows: list[dict] = []
    files: dict[tuple, Path] = {}
    results_path = args.work / "rows.json"
    done = {(r["recipe"], r.get("calibration")): r for r in
            (json.loads(results_path.read_text()) if results_path.is_file() else [])}

    def wanted(name: str) -> bool:
        return args.recipes is None or name in args.recipes

    def add(name: str, count: Optional[int], build: Callable[[], bytes], note: str = "",
            limit: Optional[int] = None) -> Optional[Path]:
        if not wanted(name):
            return None
        key = (name, count)
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        path = args.work / f"{slug}{'' if count is None else f'_c{count}'}.tflite"
        if key in done and path.is_file():
            rows.append(done[key])
            files[key] = path
            print(json.dumps(done[key]))
            return path
        row = {"recipe": name, "calibration": count, "note": note}
        try:
            if not path.is_file():
                started = time.perf_counter()
                path.write_bytes(build())
                row["build_seconds"] = round(time.perf_counter() - started, 1)
            row.update(measure(bench, path, args.threads, args.latency_runs, limit))
        except Exception as err:  # noqa: BLE001 - a recipe the quantizer or LiteRT refuses is a result too
            row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
            path = None
        rows.append(row)
        done[key] = row
        if path is not None:
            files[key] = path
        results_path.write_text(json.dumps(list(done.values()), indent=1))
        print(json.dumps(row), flush=True)
        return path

    add("fp32 TFLite", None, lambda: fp32)
    calib_cache: dict = {}

    def samples(count: int) -> list[dict]:
        if count not in calib_cache:
            calib_cache[count] = bench.representative(count)
        return calib_cache[count]

    def aeq(recipe: list[dict], count: int, update: str = "moving_average") -> bytes:
        from keras_tl.export.litert_quantizer import inline_buffers
        from keras_tl.export.tflite import pixel_valued_uint8_input

        qsvs = aeq_calibrate(fp32, recipe, samples(count), update)
        return pixel_valued_uint8_input(inline_buffers(aeq_quantize(fp32, recipe, qsvs)), IMAGE)

    for count in counts:
        add("converter int8", count, lambda: converter_int8(bench, count))
        add("export int8: AEQ a8w8, min/max calibration", count, lambda: export_int8(bench, fp32, count))
        add("AEQ a8w8 default recipe, int8 I/O", count, lambda: aeq_quantize(
            fp32, aeq_recipe(float_io=False), aeq_calibrate(fp32, aeq_recipe(float_io=False), samples(count))))
        add("AEQ a8w8", count, lambda: aeq(aeq_recipe(), count))
        add("AEQ a8w8 per-tensor weights", count, lambda: aeq(aeq_recipe(weight_granularity="TENSORWISE"), count))
        add("AEQ a8w8 MSE weights", count, lambda: aeq(aeq_recipe(weight_algorithm="MSE"), count))
        if count == counts[-1]:  # int16 activations run LiteRT's reference kernels (~50x slower): one count
            add("AEQ a16w8", count, lambda: aeq(aeq_recipe(activation_bits=16), count), limit=args.slow_test_images)

    float_ops: list[dict] = []
    count = counts[-1]
    base = args.work / f"aeq_a8w8_c{count}.tflite"
    if args.mixed and base.is_file() and any(wanted(f"AEQ a8w8 + {k} ops float") for k in args.mixed):
        ranking_cache = args.work / f"snr_ranking_c{count}.json"
        if ranking_cache.is_file():
            ranking = json.loads(ranking_cache.read_text())
        else:
            float_base = aeq_quantize(fp32, aeq_recipe(), aeq_calibrate(fp32, aeq_recipe(), samples(count)))
            ranking = snr_ranking(fp32, float_base, samples(count)[:32])
            ranking_cache.write_text(json.dumps(ranking, indent=1))
        for k in args.mixed:
            chosen = ranking[:k]
            scopes = tuple(f"^{re.escape(o['output'])};" for o in chosen)  # an op's scope: output names + ';'
            path = add(f"AEQ a8w8 + {k} ops float", count, lambda: aeq(aeq_recipe(float_scopes=scopes), count),
                       note=", ".join(f"{o['op']} {o['output']}" for o in chosen))
            if path is not None:
                float_ops = chosen
    timed = latency_rounds({f"{k[0]}|{k[1]}": p for k, p in files.items()}, args.threads, args.latency_runs,
                           args.rounds)
    for row in rows:
        row.update(timed.get(f"{row['recipe']}|{row.get('calibration')}", {}))
    after = machine()
    payload = {
        "model": f"{bench.inputs.config.model.backbone} at {bench.inputs.image_size} px, run "
                 f"'{args.run.name}' (Keras accuracy {keras_acc:.4f} on these images)",
        "what": (f"Each file was run by keras_tl's LiteRT runner on {bench.test_count:,} test images (a seeded "
                 f"sample of the run's test split); agreement is top-1 agreement with the Keras fp32 model on "
                 f"the same images, with its 95 % Wilson interval; drop is Keras accuracy minus the file's, in "
                 f"points. Calibration on the first N of export's seeded train images (the run has {train:,}). "
                 f"Latency: batch-1 invokes with {args.threads} threads, the median over {args.rounds} "
                 f"interleaved rounds of each file's median of {args.latency_runs} (other processes shared the "
                 f"CPUs; the .json also has the best round). AEQ = ai-edge-quantizer 0.10.0 on the fp32 TFLite file; "
                 f"'int8 I/O' is its default recipe as is, the other AEQ rows keep the INPUT/OUTPUT ops float and "
                 f"then take uint8 pixels (scale 1) into the first QUANTIZE op, as export's converter file does. "
                 f"a16w8 runs LiteRT's int16 reference kernels, so it was measured on the first "
                 f"{min(args.slow_test_images, bench.test_count):,} of the sample (its drop is against Keras on "
                 f"those). The fp32 file is converted afresh from the run's model.keras by export's converter."),
        "test_images": bench.test_count, "keras_accuracy": keras_acc, "calibration_counts": counts,
        "threshold": THRESHOLD, "max_drop_points": MAX_DROP, "threads": args.threads,
        "latency_runs": args.latency_runs, "float_ops": float_ops, "versions": _versions(),
        "machine_before": before, "machine_after": after}
    if not args.no_write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"{NAME}.json").write_text(json.dumps({**payload, "rows": rows}, indent=2) + "\n",
                                                  encoding="utf-8")
        print(write_page(payload, rows))


def _versions() -> dict:
    import importlib.metadata as md

    out = {}
    for name in ("tensorflow", "keras", "ai-edge-litert", "ai-edge-quantizer", "numpy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


if __name__ == "__main__":
    main()
