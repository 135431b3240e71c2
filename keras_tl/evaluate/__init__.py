"""Metrics, plots, the run report and the side-by-side comparison of runs."""

from keras_tl.evaluate.evaluator import evaluate_run, predict_split
from keras_tl.evaluate.metrics import classification_metrics
from keras_tl.evaluate.plots import plot_confusion, plot_history, plot_misclassified
from keras_tl.evaluate.report import write_report

__all__ = ["classification_metrics", "evaluate_run", "plot_confusion", "plot_history", "plot_misclassified",
           "predict_split", "write_report"]
