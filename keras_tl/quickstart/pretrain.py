"""A small pretrained base for the offline quickstart.

ImageNet weights cannot be downloaded offline, and a randomly initialised base is useless for transfer learning
(with BatchNorm frozen at its initial statistics its features are all zero). So the quickstart pretrains its own
base -- MobileNetV2 (alpha 0.35, 64 px) trained from scratch on a *separate* set of 4,000 images -- and then
transfers it with the ordinary ``model.weights: PATH`` mechanism, exactly as a user would use any local base.
"""

from __future__ import annotations

from pathlib import Path

import keras

from keras_tl.config import ExperimentConfig
from keras_tl.data import prepare_data
from keras_tl.models import build_classifier, save_model_atomically
from keras_tl.run import RunFolder
from keras_tl.train import compile_for, seed_everything


def pretrain_base(config: ExperimentConfig, source_folder: Path, workdir: Path, *, epochs: int, log=print) -> Path:
    """Train ``config.model`` from scratch on ``source_folder``; return the saved .keras file."""
    out = workdir / "pretrained_base.keras"
    if out.is_file():
        log(f"using the pretrained base at {out}")
        return out
    seed_everything(config.seed, config.train.deterministic)
    scratch = RunFolder(workdir / "pretrain").ensure()
    source_cfg = config.data.model_copy(update={"source": str(source_folder), "val_fraction": 0.1, "test_fraction": 0.0})
    data = prepare_data(source_cfg, scratch, seed=config.seed, multi_label=False)
    model_cfg = config.model.model_copy(update={"weights": "none", "dropout": 0.0})
    model = build_classifier(model_cfg, data.num_classes)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # The default 0.999 needs thousands of steps to settle; frozen-BN transfer needs settled statistics.
            layer.momentum = 0.9
    compile_for(model, keras.optimizers.Adam(1e-3), multi_label=False)
    common = dict(image_size=model_cfg.input_size, batch_size=config.data.batch_size, seed=config.seed)
    train_ds = data.dataset("train", training=True, **common)
    val_ds = data.dataset("val", training=False, **common)
    log(f"pretraining the base from scratch on {len(data.splits['train'])} images for {epochs} epochs")
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, shuffle=False,
                        verbose=config.train.verbose)
    log(f"pretrained base: validation accuracy {history.history['val_accuracy'][-1]:.3f} on its own task")
    save_model_atomically(model, out)
    return out
