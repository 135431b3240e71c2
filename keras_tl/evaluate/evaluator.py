"""Evaluate a run's model on one of its saved splits and write metrics.json and the plots."""

from __future__ import annotations

import json
from typing import Optional

import keras
import numpy as np

from keras_tl.data import PreparedData, load_prepared
from keras_tl.errors import DataError
from keras_tl.evaluate.metrics import classification_metrics
from keras_tl.evaluate.plots import plot_confusion, plot_misclassified
from keras_tl.evaluate.predictions import predictions_file, save_predictions, worst_misclassified
from keras_tl.models import input_size, load_trained_model, model_input_names
from keras_tl.progress import keras_verbose
from keras_tl.run import RunFolder, atomic_write_text

PROGRESS_MIN_BATCHES = 20


def predict_split(model: keras.Model, data: PreparedData, split: str, *, image_size: int, batch_size: int,
                  seed: int, verbose: int = 0) -> np.ndarray:
    ds = data.dataset(split, image_size=image_size, batch_size=batch_size, training=False, seed=seed, cache="none",
                      inputs=model_input_names(model))
    return model.predict(ds.map(lambda x, y: x), verbose=verbose)


def evaluate_run(run: RunFolder, split: Optional[str] = None, *, model: Optional[keras.Model] = None,
                 data: Optional[PreparedData] = None, progress: bool = False, save: bool = True) -> dict:
    """Metrics of the run's model on ``split`` (default: config evaluate.split); with ``save``, updates
    metrics.json, the plots and predictions/<split>.csv (what the report's worst-misclassified thumbnails come
    from)."""
    config = run.config()
    split = split or config.evaluate.split
    data = data or load_prepared(run, config.data, config.model.multi_label)
    if not data.splits[split]:
        raise DataError(f"the {split} split of {run.path} is empty; evaluate another split with --split")
    model = model or load_trained_model(run.require_model())
    # Keras' bar names nothing: it is only worth a line (with a label) when predicting takes a while.
    long = progress and len(data.splits[split]) > PROGRESS_MIN_BATCHES * config.data.batch_size
    if long and keras_verbose():
        print(f"predicting the {split} split ({len(data.splits[split])} images)", flush=True)
    probs = predict_split(model, data, split, image_size=input_size(config.model),
                          batch_size=config.data.batch_size, seed=config.seed,
                          verbose=keras_verbose() if long else 0)
    metrics = classification_metrics(data.targets(split), probs, data.label_names, top_k=config.evaluate.top_k,
                                     multi_label=data.multi_label)
    metrics["split"] = split
    if not save:
        return metrics
    everything = json.loads(run.metrics_file.read_text(encoding="utf-8")) if run.metrics_file.is_file() else {}
    everything[split] = metrics
    atomic_write_text(run.metrics_file, json.dumps(everything, indent=2))
    if "confusion_matrix" in metrics:
        plot_confusion(metrics["confusion_matrix"], data.label_names, run.plots_dir / f"confusion_{split}.png")
    rows = save_predictions(predictions_file(run, split), data, split, probs, config.data.label_separator)
    plot_misclassified(worst_misclassified(rows), run.plots_dir / f"misclassified_{split}.png")
    return metrics
