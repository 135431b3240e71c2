"""Builders for the tests' real files: images drawn with Pillow, configs, and a small base model."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = {"circle": (220, 40, 40), "square": (40, 180, 60), "triangle": (40, 70, 220)}


def draw_shape(kind: str, color, size: int = 40, seed: int = 0) -> Image.Image:
    rng = random.Random(seed)
    background = tuple(rng.randint(200, 255) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    r = rng.randint(size // 4, size // 3)
    cx, cy = rng.randint(r, size - r), rng.randint(r, size - r)
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=color)
    elif kind == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=color)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=color)
    return image


def make_image_folder(root: Path, per_class: int = 12, size: int = 40) -> Path:
    for c, (kind, color) in enumerate(CLASSES.items()):
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = draw_shape(kind, color, size, seed=c * 1000 + i)
            if i % 3 == 0:
                image.save(folder / f"{kind}_{i:03d}.jpg", quality=92)
            else:
                image.save(folder / f"{kind}_{i:03d}.png")
    return root


def tiny_config(runs: Path, data_dir: Path, weights: Path | str, **sections):
    from keras_tl.config import load_config

    base = {
        "name": "tiny",
        "output_dir": str(runs),
        "seed": 7,
        # The augmentation keras_tl had on by default until measurements on real bases turned it off: the tests
        # keep exercising the augmented (uncached) training paths unless a test turns it off itself.
        "data": {"source": str(data_dir), "batch_size": 8, "val_fraction": 0.2, "test_fraction": 0.2, "scan_workers": 2,
                 "augment": {"flip": "horizontal", "rotation": 0.05, "zoom": 0.1, "contrast": 0.1}},
        "model": {"backbone": "mobilenetv2", "alpha": 0.35, "input_size": 32, "weights": str(weights)},
        "train": {"phase1": {"epochs": 1}, "phase2": {"epochs": 1, "learning_rate": 1e-4}, "verbose": 0},
    }
    for key, value in sections.items():
        if isinstance(value, dict):
            base[key] = _merge(base.get(key, {}), value)
        else:
            base[key] = value
    return load_config(**base)


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return out


def make_calibrated_base(path: Path, seed: int = 0) -> Path:
    """A randomly initialised MobileNetV2 whose BatchNorm statistics are estimated on real images.

    A random base with BatchNorm at its initial statistics outputs all-zero features; estimated statistics
    make it behave like a (weak) pretrained base, which is what the training tests need.
    """
    import keras

    from keras_tl.config import load_config
    from keras_tl.models import build_classifier

    keras.utils.set_random_seed(seed)
    cfg = load_config(model={"backbone": "mobilenetv2", "alpha": 0.35, "input_size": 32, "weights": "none"})
    model = build_classifier(cfg.model, 3)
    images = np.stack([np.asarray(draw_shape(k, c, 32, seed=s).convert("RGB"), dtype="float32")
                       for s in range(20) for k, c in CLASSES.items()])
    calibrate_batchnorm(model, images)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def calibrate_batchnorm(model, images: np.ndarray) -> None:
    """Set every BatchNorm's moving statistics to those of ``images`` (one large batch, momentum 0)."""
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momentum = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(images, training=True)
    for layer, value in zip(norms, momentum):
        layer.momentum = value


def statistics_of_a_trained_model(model, images: np.ndarray):
    """BatchNorm/Normalization statistics measured on real images: a random base at its initial statistics gives
    the same output for every image, and then equal outputs would prove nothing."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization):
            layer.adapt(images)
    calibrate_batchnorm(model, images)
    return model


def trained_from_scratch(model_config, data, *, epochs: int = 40, learning_rate: float = 5e-3):
    """A classifier trained from scratch, BatchNorm included, on ``data``'s train split, then with BatchNorm frozen
    as keras_tl's phase 2 leaves it. Int8 agreement only means something on a model that has learned its task: a
    random base gives near-ties or, through many blocks, chaotic outputs that any rounding flips."""
    import keras

    from keras_tl.models import build_classifier, input_size
    from keras_tl.train import compile_for, seed_everything

    seed_everything(0, deterministic=True)  # the same model whatever ran before in this process
    model = build_classifier(model_config, data.num_classes)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.8  # a few hundred steps must settle the statistics
    compile_for(model, keras.optimizers.Adam(learning_rate), multi_label=False)
    train = data.dataset("train", image_size=input_size(model_config), batch_size=16, training=True, seed=0)
    model.fit(train, epochs=epochs, shuffle=False, verbose=0)  # the dataset shuffles
    for layer in norms:
        layer.trainable = False
    return model


def weights_by_layer(model) -> dict[str, list[np.ndarray]]:
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers if layer.weights}


def changed_layers(before: dict, after: dict, atol: float = 0.0) -> set[str]:
    return {name for name in before if any(not np.allclose(a, b, atol=atol, rtol=0) for a, b in zip(before[name], after[name]))}


NO_AUGMENT = {"augment": {"flip": "none", "rotation": 0.0, "zoom": 0.0, "contrast": 0.0}}


_TEMPLATES: dict = {}


def fresh_model(model_config, num_classes: int, seed: int = 0):
    """A newly built classifier: a clone of one built per model config (building reads the base file, which
    takes seconds). The same seed gives the same initial head and the same dropout RNG."""
    import keras

    from keras_tl.models import build_classifier

    key = (model_config.model_dump_json(), num_classes)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = build_classifier(model_config, num_classes)
    template = _TEMPLATES[key]
    keras.utils.set_random_seed(seed)
    model = keras.models.clone_model(template)
    model.set_weights(template.get_weights())
    return model


def fit_fresh_model(config, prepared, run_dir: Path, log=lambda *_: None):
    """Train a fresh model of the config (seeded from config.seed) with fit_two_phase."""
    import keras

    from keras_tl.models import build_classifier
    from keras_tl.run import RunFolder
    from keras_tl.train import fit_two_phase, precision_policy

    run = RunFolder(run_dir).ensure()
    if config.train.mixed_precision == "none":
        model = fresh_model(config.model, prepared.num_classes, config.seed)
    else:  # layers take the policy they are built under
        keras.utils.set_random_seed(config.seed)
        with precision_policy(config.train.mixed_precision):
            model = build_classifier(config.model, prepared.num_classes)
    result = fit_two_phase(model, prepared, config, run, log=log)
    return model, run, result
