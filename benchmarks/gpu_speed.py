"""Training speed on a CUDA GPU: phase 1 (the guide's recipe and cached features) and phase 2, in steps per second.

At 224 px on keras_tl's own model (EfficientNet-Lite0 unless --backbone), for each of fp32 and mixed_float16,
with and without XLA (jit_compile): the frozen-base step of the Keras guide's phase 1, the feature extraction that
cached phase 1 does instead (images/s) and the head's step on cached features, and the phase-2 step with the top of
the base unfrozen. Speed does not depend on the weights' values, so the base is random (weights: none) and needs no
download; the images are random pixels in memory, so the input pipeline costs nothing.

    python -m benchmarks.gpu_speed                 # on a machine with a CUDA GPU
    python -m benchmarks.gpu_speed --smoke         # a few steps at 64 px on CPU: checks that the script runs
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.common import RESULTS_DIR, machine, print_table, write_results  # noqa: E402

CLASSES = 10


def steps_per_second(model, x, y, steps: int, warmup: int) -> float:
    import tensorflow as tf

    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)  # traces (and compiles) first
    started = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return steps / (time.perf_counter() - started)


def measure(backbone: str, size: int, batch: int, precision: str, jit: bool, steps: int, warmup: int) -> dict:
    import keras

    from keras_tl.config import load_config
    from keras_tl.models import FEATURES_LAYER, build_model
    from keras_tl.train import compile_for, freeze_base, head_of, precision_policy, unfreeze_for_fine_tuning

    keras.utils.set_random_seed(0)
    config = load_config(model={"backbone": backbone, "weights": "none", "input_size": size},
                         train={"mixed_precision": precision, "deterministic": False})
    with precision_policy(precision):
        model = build_model(config, CLASSES)
    x = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")
    y = np.arange(batch) % CLASSES
    freeze_base(model)
    compile_for(model, keras.optimizers.Adam(1e-3), multi_label=False, jit_compile=jit)
    guide = steps_per_second(model, x, y, steps, warmup)

    extractor = keras.Model(model.inputs[0], model.get_layer(FEATURES_LAYER).output)
    extractor.predict(x, batch_size=batch, verbose=0)
    started = time.perf_counter()
    for _ in range(steps):
        extractor.predict(x, batch_size=batch, verbose=0)
    extraction = steps * batch / (time.perf_counter() - started)
    head, _ = head_of(model)
    compile_for(head, keras.optimizers.Adam(1e-3), multi_label=False, jit_compile=jit)
    features = np.asarray(extractor.predict(x, batch_size=batch, verbose=0), dtype="float32")
    head_steps = steps_per_second(head, features, y, steps * 10, warmup)

    unfreeze_for_fine_tuning(model, config)
    compile_for(model, keras.optimizers.Adam(1e-5), multi_label=False, jit_compile=jit)
    phase2 = steps_per_second(model, x, y, steps, warmup)
    return {"precision": precision, "jit_compile": jit, "guide_phase1_steps_s": round(guide, 2),
            "extraction_images_s": round(extraction, 1), "cached_head_steps_s": round(head_steps, 1),
            "phase2_steps_s": round(phase2, 2)}


def markdown(payload: dict) -> str:
    m = payload["machine"]
    lines = [f"# Training speed on {payload['device']}: {payload['backbone']} at {payload['input_size']} px, "
             f"batch {payload['batch']}", "",
             f"Measured {m['date']} ({m['gpus']} GPUs visible, TensorFlow {m['tensorflow']}). Written by "
             "`python -m benchmarks.gpu_speed`; steps per second of `model.fit` after a warm-up that traces (and "
             "compiles) first. A cached phase 1 costs one extraction pass plus the head's epochs; the guide's "
             "phase 1 runs the frozen base in every step of every epoch.", "",
             "| precision | jit_compile | guide phase 1 steps/s | extraction images/s | cached head steps/s | "
             "phase 2 steps/s |", "|---|---|---|---|---|---|"]
    for r in payload["rows"]:
        lines.append(f"| {r['precision']} | {r['jit_compile']} | {r['guide_phase1_steps_s']} | "
                     f"{r['extraction_images_s']} | {r['cached_head_steps_s']} | {r['phase2_steps_s']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    import tensorflow as tf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="64 px, 2 steps, on whatever device there is")
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.smoke:
        raise SystemExit("error: no CUDA GPU visible to TensorFlow; run with --smoke to check the script on CPU")
    size, steps, warmup, batch = (64, 2, 1, 8) if args.smoke else (224, args.steps, 5, args.batch)
    rows = [measure(args.backbone, size, batch, precision, jit, steps, warmup)
            for precision, jit in itertools.product(("none", "mixed_float16"), (False, True))]
    device = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else "CPU"
    payload = {"device": device, "backbone": args.backbone, "input_size": size, "batch": batch, "steps": steps,
               "machine": machine(), "rows": rows}
    print_table(rows, list(rows[0]))
    if not args.smoke:  # a smoke run's figures mean nothing: nothing is written
        write_results("gpu_speed", payload, rows)
        (RESULTS_DIR / "gpu_speed.md").write_text(markdown(payload), encoding="utf-8")


if __name__ == "__main__":
    main()
