"""`keras-tl compare RUN_A RUN_B ...`: the runs' settings, metrics and export figures side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from keras_tl.data import SPLITS, load_split
from keras_tl.errors import RunFolderError
from keras_tl.evaluate.export_results import (entry_name, format_value, meaningful_figures, not_passed,
                                              read_export_results)
from keras_tl.run import RunFolder, find_run
from keras_tl.run_files import REFERENCE, Metrics
from keras_tl.train import history_value, read_history

_EXPORT_FIGURES = (("size_bytes", "size MB"), ("accuracy", "accuracy"), ("top1_agreement", "top-1 agreement"),
                   ("latency_ms_p50", "p50 ms"))


def summarize(run: RunFolder) -> dict[str, str]:
    """One run as ordered "row name -> value" pairs; rows a run lacks are simply absent."""
    config = run.config()
    m, t = config.model, config.train
    rows = {"backbone": f"{m.backbone}" + (f" a{m.alpha:g}" if m.alpha else ""),
            "input px": str(m.input_size or "default"),
            "batch per replica": str(config.data.batch_size),
            "learning rates 1 / 2": f"{t.phase1.learning_rate:g} / {t.phase2.learning_rate:g}",
            "distribution": t.distribution}
    if run.splits_dir.is_dir():
        sizes = [str(len(load_split(run.splits_dir, s, config.data.label_separator))) for s in SPLITS]
        rows["images train/val/test"] = "/".join(sizes)
    history = read_history(run.history_file, t.phase1.epochs)
    if history:
        rows["epochs phase 1 + 2"] = " + ".join(str(sum(1 for r in history if r["phase"] == p)) for p in (1, 2))
        for key, pick in (("val_loss", min), ("val_accuracy", max)):
            values = [v for v in (history_value(r, key) for r in history) if v is not None]
            if values:
                rows[f"best {key}"] = f"{pick(values):.4f}"
    for split, metrics in Metrics.read(run.metrics_file).root.items():
        for key, value in metrics.scores().items():
            rows[f"{split} {key}"] = f"{value:.4f}"
    exported = read_export_results(run)
    if exported.problem:
        rows["export"] = exported.problem
    for key, value in meaningful_figures(exported).items():
        rows[f"export {key}"] = format_value(key, value)
    if exported.entries and exported.report.all_passed is not None:
        rows["export all_passed"] = "no" if not_passed(exported.entries) else "yes"
    for entry in exported.entries:
        for key, label in _EXPORT_FIGURES:
            if getattr(entry, key) is not None:
                rows[f"{entry_name(entry)} {label}"] = format_value(key, getattr(entry, key))
        if entry.outcome not in (None, REFERENCE):
            rows[f"{entry_name(entry)} status"] = entry.outcome
    return rows


def compare_runs(paths: Sequence[str | Path]) -> str:
    runs = []
    for path in paths:
        run = find_run(path)
        if run is None:
            raise RunFolderError(f"{path} is not a keras-tl run folder (no config.yaml)")
        runs.append(run)
    names = [r.path.name for r in runs]
    if len(set(names)) < len(names):
        names = [str(r.path) for r in runs]
    summaries = [summarize(r) for r in runs]
    keys = list(dict.fromkeys(k for s in summaries for k in s))
    return _aligned(["", *names], [[k, *(s.get(k, "-") for s in summaries)] for k in keys])


def _aligned(headers: list[str], rows: list[list[str]]) -> str:
    """A pipe table that reads well in a terminal and pastes into Markdown as is."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])
