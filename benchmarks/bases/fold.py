"""Folding a different input normalisation into a base's first convolution and BatchNorm.

keras_tl puts each registry entry's preprocessing inside the model ("tf": z = (x - 127.5) / 127.5), while a
converted base was trained on its own y = a * z + b. For a convolution without bias, conv(W, y) = conv(a * W, z) +
b * sum(W) per output channel, and the BatchNorm after it absorbs the constant: moving_mean' = moving_mean -
b * sum(W). That is exact wherever the kernel sees only image pixels; where it overlaps the zero padding
(ZeroPadding2D pads z with 0, which is y = b, not y = 0) the last output row and column differ slightly.
"""

from __future__ import annotations

import numpy as np


def affine_from(mean: float, std: float) -> tuple[float, float]:
    """(a, b) with (x - mean) / std = a * z + b for z = (x - 127.5) / 127.5."""
    return 127.5 / std, (127.5 - mean) / std


def fold_input_affine(kernel: np.ndarray, bn: list[np.ndarray], a: float, b: float) -> tuple[np.ndarray, list]:
    """The first conv kernel (h, w, in, out) and its BatchNorm [gamma, beta, mean, variance], refolded."""
    gamma, beta, mean, variance = bn
    shift = b * kernel.sum(axis=(0, 1, 2))
    return (a * kernel).astype("float32"), [gamma, beta, (mean - shift).astype("float32"), variance]


def filled_base(model, weights: dict[str, list[np.ndarray]], first: tuple[str, str], *, mean: float, std: float,
                fold: bool, source: str):
    """``model`` (a bare keras.applications base) with ``weights`` by layer name; with ``fold`` the first conv and
    its BatchNorm (``first``) are refolded from the source's (x - mean) / std to keras_tl's input."""
    weights = dict(weights)
    if fold:
        conv, bn = first
        weights[conv], weights[bn] = _refolded(weights[conv][0], weights[bn], mean, std)
    weighted = {layer.name for layer in model.layers if layer.weights}
    if weighted != set(weights):
        raise ValueError(f"{model.name} layers {sorted(weighted ^ set(weights))} are not matched by {source}")
    for name, values in weights.items():
        model.get_layer(name).set_weights(values)
    return model


def _refolded(kernel: np.ndarray, bn: list[np.ndarray], mean: float, std: float) -> tuple[list, list]:
    kernel, bn = fold_input_affine(kernel, bn, *affine_from(mean, std))
    return [kernel], bn
