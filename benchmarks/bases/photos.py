"""Photos that installed packages ship, with the ImageNet class each should get: a check that needs no data set."""

from __future__ import annotations

import numpy as np

SIZE = 224
# ImageNet-1k indices; TF-Slim's 1001-class labelling puts "background" first, so add 1 there.
MILITARY_UNIFORM, DAISY, STINKHORN = 652, 985, 994


def photo_paths() -> dict[str, str]:
    from pathlib import Path

    import matplotlib.cbook
    import sklearn.datasets

    images = Path(sklearn.datasets.__file__).parent / "images"
    return {"grace_hopper": str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)),
            "flower": str(images / "flower.jpg"), "china": str(images / "china.jpg")}


def photo_batch(size: int = SIZE) -> tuple[list[str], np.ndarray]:
    """(names, float32 0-255 RGB batch) of every photo, squashed to ``size`` square as the packages' apps do."""
    import tensorflow as tf

    names, images = [], []
    for name, path in photo_paths().items():
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        images.append(tf.image.resize(image, (size, size), antialias=True).numpy())
        names.append(name)
    return names, np.stack(images).astype("float32")
