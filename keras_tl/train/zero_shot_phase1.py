"""Phase 1 with the zero-shot head: the text tower writes the output layer (no training), and the run's history
gets the one phase-1 row every fitted head logs, with the zero-shot accuracy and loss of the val split."""

from __future__ import annotations

import time

import keras

from keras_tl.config.schema import ExperimentConfig
from keras_tl.errors import ConfigError
from keras_tl.models import PREDICTIONS_LAYER, get_backbone
from keras_tl.models.zero_shot import ZeroShotHead, zero_shot_head
from keras_tl.run import RunFolder
from keras_tl.train.callbacks import EpochHistory


def write_zero_shot_head(model: keras.Model, config: ExperimentConfig, labels: list[str], run: RunFolder,
                         val_ds=None, log=print) -> ZeroShotHead:
    started = time.perf_counter()
    templates = config.train.phase1.templates
    head = zero_shot_head(get_backbone(config.model.backbone), config.model, labels, templates)
    output = model.get_layer(PREDICTIONS_LAYER)
    if output.kernel.shape != head.kernel.shape:
        raise ConfigError(f"train.phase1.head: zeroshot needs the output layer right after CLIP's image embedding "
                          f"({head.kernel.shape[0]} wide); this model's reads {output.kernel.shape[0]}")
    output.set_weights([head.kernel, head.bias])
    logs = {}
    if val_ds is not None:
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        values = model.evaluate(val_ds, verbose=0, return_dict=True)
        logs = {"val_accuracy": float(values["accuracy"]), "val_loss": float(values["loss"])}
    EpochHistory(run.history_file).on_epoch_end(0, logs)
    shown = "".join(f", {key} {value:.4f}" for key, value in logs.items())
    log(f"phase 1: wrote a zero-shot head from {len(templates)} prompt template(s) per class (logit scale "
        f"{head.logit_scale:.3g}) in {time.perf_counter() - started:.1f} s{shown}")
    return head
