"""Evaluate a run's model on one of its saved splits and write metrics.json and the plots."""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np

from keras_tl.data import PreparedData, load_prepared
from keras_tl.errors import DataError
from keras_tl.evaluate.metrics import classification_metrics
from keras_tl.evaluate.plots import plot_confusion, plot_misclassified, plot_slices
from keras_tl.evaluate.slices import check_slice_column, slice_metrics
from keras_tl.evaluate.predictions import save_predictions, worst_misclassified
from keras_tl.models import input_size, load_trained_model, model_input_names
from keras_tl.progress import keras_verbose
from keras_tl.run import RunFolder
from keras_tl.run_files import Metrics, SplitMetrics

PROGRESS_MIN_BATCHES = 20


def predict_split(model: keras.Model, data: PreparedData, split: str, *, image_size: int, batch_size: int,
                  seed: int, verbose: int = 0) -> np.ndarray:
    ds = data.dataset(split, image_size=image_size, batch_size=batch_size, training=False, seed=seed, cache="none",
                      inputs=model_input_names(model))
    return model.predict(ds.map(lambda x, y: x), verbose=verbose)


def evaluate_run(run: RunFolder, split: Optional[str] = None, *, model: Optional[keras.Model] = None,
                 data: Optional[PreparedData] = None, progress: bool = False, save: bool = True,
                 slice_by: Optional[str] = None) -> SplitMetrics:
    """Metrics of the run's model on ``split`` (default: config evaluate.split), per slice of the manifest column
    ``slice_by`` too (default: config evaluate.slice_by); with ``save``, updates metrics.json, the plots and
    predictions/<split>.csv (what the report's worst-misclassified thumbnails come from)."""
    config = run.config()
    split = split or config.evaluate.split
    slice_by = slice_by or config.evaluate.slice_by
    data = data or load_prepared(run, config.data, config.model.multi_label)
    if not data.splits[split]:
        raise DataError(f"the {split} split of {run.path} is empty; evaluate another split with --split")
    if slice_by and data.multi_label:
        raise DataError("per-slice evaluation (--slice-by, evaluate.slice_by) works on single-label runs")
    if slice_by:
        check_slice_column(data.splits[split], slice_by)  # before the predictions, which may take a while
    model = model or load_trained_model(run.require_model())
    # Keras' bar names nothing: it is only worth a line (with a label) when predicting takes a while.
    long = progress and len(data.splits[split]) > PROGRESS_MIN_BATCHES * config.data.batch_size
    if long and keras_verbose():
        print(f"predicting the {split} split ({len(data.splits[split])} images)", flush=True)
    probs = predict_split(model, data, split, image_size=input_size(config.model),
                          batch_size=config.data.batch_size, seed=config.seed,
                          verbose=keras_verbose() if long else 0)
    metrics = SplitMetrics.model_validate({
        **classification_metrics(data.targets(split), probs, data.label_names, top_k=config.evaluate.top_k,
                                 multi_label=data.multi_label), "split": split})
    if slice_by:
        metrics.slices = slice_metrics(data.splits[split], data.targets(split), probs, slice_by,
                                       min_count=config.evaluate.slice_min_count)
    if not save:
        return metrics
    everything = Metrics.read(run.metrics_file)
    everything.root[split] = metrics
    everything.write(run.metrics_file)
    if metrics.confusion_matrix is not None:
        plot_confusion(metrics.confusion_matrix, data.label_names, run.split_plot_file("confusion", split))
    if metrics.slices is not None:
        plot_slices(metrics.slices, run.split_plot_file("slices", split))
    rows = save_predictions(run, data, split, probs, config.data.label_separator)
    plot_misclassified(worst_misclassified(rows), run.split_plot_file("misclassified", split))
    return metrics
