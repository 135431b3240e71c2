"""Builders for the export tests: a small trained run whose predictions mean something, and corrupted artifacts.

The spine's calibrated random base gives features that carry no class information, so a head trained on it
predicts near-ties everywhere; int8 parity on such a model measures noise. The export tests transfer from a base
pretrained from scratch on drawn shapes instead (as the quickstart does at a larger scale), so every artifact
has clear decisions to agree or disagree on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from tests.helpers import (CLASSES, NO_AUGMENT, calibrate_batchnorm, draw_shape, make_image_folder,
                           tiny_config)

PRETRAIN_SEED = 90_000  # drawing seeds far from the run's own images


def make_pretrained_base(path: Path, per_class: int = 100, epochs: int = 5) -> Path:
    """MobileNetV2 (alpha 0.35, 32 px) trained from scratch on drawn shapes, BatchNorm statistics re-estimated."""
    import keras

    from keras_tl.config import load_config
    from keras_tl.models import build_classifier
    from keras_tl.train import compile_for, seed_everything

    seed_everything(0, deterministic=True)  # the same base whatever ran before in this process
    cfg = load_config(model={"backbone": "mobilenetv2", "alpha": 0.35, "input_size": 32, "weights": "none",
                             "dropout": 0.0})
    model = build_classifier(cfg.model, len(CLASSES))
    compile_for(model, keras.optimizers.Adam(5e-3), multi_label=False)
    images = np.stack([np.asarray(draw_shape(kind, color, 32, seed=PRETRAIN_SEED + c * 1000 + i), dtype="float32")
                       for c, (kind, color) in enumerate(CLASSES.items()) for i in range(per_class)])
    targets = np.repeat(np.arange(len(CLASSES)), per_class)
    model.fit(images, targets, epochs=epochs, batch_size=32, shuffle=True, verbose=0)
    calibrate_batchnorm(model, images)  # moving averages lag far behind a few dozen steps from scratch
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def make_export_run(root: Path, base: Path):
    """A trained run of 60 drawn images (15 in the test split), transferred from ``base``."""
    import keras_tl

    folder = make_image_folder(root / "shapes", per_class=20)
    # No augmentation (keras_tl's default): the export tests need clear decisions, not augmentation's noise.
    config = tiny_config(root / "runs", folder, base, name="export",
                         data={"test_fraction": 0.25, "val_fraction": 0.15, **NO_AUGMENT},
                         train={"phase1": {"epochs": 8, "learning_rate": 3e-3}, "phase2": {"epochs": 0},
                                "verbose": 0})
    return keras_tl.train_model(config, log=lambda *_: None)


def negate_bytes(path: Path, values: np.ndarray) -> None:
    """Overwrite the bytes of ``values`` (float32, as stored in the file) with their negation, in place."""
    data = bytearray(path.read_bytes())
    needle = values.astype("<f4").tobytes()
    at = data.find(needle)
    assert at >= 0, "the weights were not found in the file"
    data[at:at + len(needle)] = (-values).astype("<f4").tobytes()
    path.write_bytes(bytes(data))


def op_types(content: bytes) -> dict[str, set[int]]:
    """Builtin op name -> the tensor types of its outputs."""
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    graph = model.subgraphs[0]
    out: dict[str, set[int]] = {}
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        out.setdefault(name, set()).update(graph.tensors[int(i)].type for i in op.outputs)
    return out
