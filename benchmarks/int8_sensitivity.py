"""Where int8 hurts a convolutional base: the signal-to-noise ratio (SNR) of its pooled features when noise enters.

    python -m benchmarks.int8_sensitivity BASE.keras [--images 32] [--seed 0]

On Fashion-MNIST images (Debian's dataset-fashion-mnist, resized to 224 px), compared with the float base:
- the input with Gaussian noise 40 dB below it;
- every convolution's weights rounded to int8 (symmetric, one scale per output channel, BatchNorm folded in, as
  LiteRT's files store them), activations float;
- each convolution's weights rounded alone.
A base whose pooled features keep little SNR from small input noise amplifies any rounding error; the convolutions
whose rounding alone costs the most are the ones to keep float (export.int8_float_layers).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.common import RESULTS_DIR, machine, machine_line, print_table, write_results  # noqa: E402


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    return float(10 * np.log10((reference ** 2).sum() / ((reference - other) ** 2).sum()))


def folded_int8_kernel(conv, bn) -> np.ndarray:
    """The kernel after BatchNorm folding, rounded to int8 per output channel, unfolded again."""
    import keras

    gamma, _, _, variance = bn.get_weights()
    scale = gamma / np.sqrt(variance + bn.epsilon)
    depthwise = isinstance(conv, keras.layers.DepthwiseConv2D)
    shaped = scale[None, None, :, None] if depthwise else scale[None, None, None, :]
    kernel = conv.get_weights()[0]
    folded = kernel * shaped
    step = np.abs(folded).max(axis=(0, 1, 3) if depthwise else (0, 1, 2), keepdims=True) / 127
    step[step == 0] = 1
    return (np.round(folded / step) * step / shaped).astype(np.float32)


def main(argv=None) -> None:
    import keras
    import tensorflow as tf

    from benchmarks.fashion_mnist import read_idx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="a bare convolutional base (.keras), each convolution followed by its BatchNorm")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    base = keras.saving.load_model(args.base, compile=False)
    size = base.input_shape[1]
    image = keras.Input((size, size, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base(keras.layers.Rescaling(1 / 127.5, -1)(image)))
    model = keras.Model(image, pooled)
    rng = np.random.default_rng(args.seed)
    grey = read_idx("t10k-images-idx3-ubyte.gz")[rng.permutation(10000)[: args.images]]
    pixels = tf.image.resize(np.repeat(grey[..., None], 3, -1).astype(np.float32), (size, size)).numpy()
    reference = model.predict(pixels, verbose=0)
    noise = rng.normal(0, 1, pixels.shape).astype(np.float32) * np.sqrt((pixels ** 2).mean()) * 10 ** (-40 / 20)
    noisy = snr_db(reference, model.predict(pixels + noise, verbose=0))

    # keras.applications lists each convolution's BatchNorm right after it
    pairs = [(layer, after) for layer, after in zip(base.layers, base.layers[1:])
             if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
             and isinstance(after, keras.layers.BatchNormalization)]
    convs = [conv for conv, _ in pairs]
    kernels = {conv.name: conv.get_weights()[0] for conv in convs}
    rounded = {conv.name: folded_int8_kernel(conv, bn) for conv, bn in pairs}

    def with_rounded(names) -> float:
        for conv in convs:
            conv.set_weights([rounded[conv.name] if conv.name in names else kernels[conv.name]])
        return snr_db(reference, model.predict(pixels, verbose=0))

    rows = [{"perturbation": "input noise 40 dB below the pixels", "pooled_snr_db": noisy},
            {"perturbation": "every convolution's weights int8", "pooled_snr_db": with_rounded(set(kernels))}]
    rows += [{"perturbation": f"only {conv.name}'s weights int8", "layer": conv.name,
              "pooled_snr_db": with_rounded({conv.name})} for conv in convs]
    print_table(rows, ["perturbation", "pooled_snr_db"])
    name = f"int8_sensitivity_{Path(args.base).stem}"
    payload = {"machine": machine(), "base": Path(args.base).name, "images": args.images, "seed": args.seed}
    write_results(name, payload, rows)
    worst = sorted(rows[2:], key=lambda row: row["pooled_snr_db"])
    lines = [f"# Where int8 hurts {Path(args.base).name}: pooled-feature SNR on Fashion-MNIST", "",
             f"{machine_line(payload['machine'])} Written by `python -m benchmarks.int8_sensitivity` on "
             f"{args.images} Fashion-MNIST test images at {size} px; SNR of the base's pooled features against the "
             "float base, in dB (higher: closer). Weights rounded to int8 per output channel with BatchNorm folded "
             "in, activations float.", "", "| perturbation | pooled features SNR dB |", "|---|---|"]
    lines += [f"| {row['perturbation']} | {row['pooled_snr_db']:.1f} |" for row in rows[:2] + worst]
    (RESULTS_DIR / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
