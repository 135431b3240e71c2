"""report.md: what a person reads after a run -- data, model, phases, curves and metrics on one page."""

from __future__ import annotations

from typing import Optional

from keras_tl.data import PreparedData, label_counts
from keras_tl.evaluate.plots import plot_history
from keras_tl.run import RunFolder, atomic_write_text
from keras_tl.train import read_history


def write_report(run: RunFolder, data: PreparedData, metrics: dict, phases: Optional[list] = None) -> None:
    config = run.config()
    rows = read_history(run.history_file, config.train.phase1.epochs)
    if rows:
        plot_history(rows, run.plots_dir / "history.png")
    lines = [f"# Run `{run.path.name}`", ""]
    lines += ["## Data", "", f"Source: `{config.data.source}`", "", "| class | train | val | test |", "|---|---|---|---|"]
    counts = {name: label_counts(samples) for name, samples in data.splits.items()}
    for label in data.label_names:
        lines.append(f"| {label} | {counts['train'][label]} | {counts['val'][label]} | {counts['test'][label]} |")
    if data.report is not None:
        r = data.report
        lines += ["", f"Scan: {len(r.usable)} usable, {len(r.converted)} converted, {len(r.quarantined)} quarantined, "
                      f"{len(r.ignored)} ignored, {len(r.duplicates)} duplicate groups."]
        lines += [f"- quarantined `{q['path']}`: {q['reason']}" for q in r.quarantined]
    m = config.model
    lines += ["", "## Model", ""]
    if m.uses_image:
        lines.append(f"Backbone `{m.backbone}` (weights: `{m.weights}`), input {m.input_size or 'default'}px, "
                     f"{m.pooling} pooling, dropout {m.dropout}, hidden {m.hidden_units or 'none'}.")
    if m.uses_text:
        t = config.text
        fusion = f", {t.fusion} fusion with the image features" if m.uses_image else ""
        lines.append(f"Text tower: BERT `{t.weights}`, {t.max_length} tokens, {t.pooling} pooling, projected to "
                     f"{t.projection_units} units{fusion}; phase 2 unfreezes its top {t.fine_tune_layers} blocks at "
                     f"learning rate {t.learning_rate}.")
    for phase in phases or []:
        state = "skipped" if phase.skipped and not phase.resumed else "restored" if phase.skipped else f"{phase.epochs_run} epochs"
        lines.append(f"- phase {phase.phase}: {state}, {phase.trainable_params:,} trainable parameters")
    if rows:
        lines += ["", "## Training", "", "![training curves](plots/history.png)"]
    lines += ["", f"## Metrics ({metrics.get('split', 'test')} split, {metrics.get('samples', 0)} images)", ""]
    for key, value in metrics.items():
        if isinstance(value, float):
            lines.append(f"- {key}: {value:.4f}")
    lines += ["", "| class | precision | recall | f1 | support |", "|---|---|---|---|---|"]
    for name, c in metrics.get("per_class", {}).items():
        lines.append(f"| {name} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    if "confusion_matrix" in metrics:
        lines += ["", f"![confusion matrix](plots/confusion_{metrics.get('split', 'test')}.png)"]
    atomic_write_text(run.report_file, "\n".join(lines) + "\n")
