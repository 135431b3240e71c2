"""report.md and report.html: what a person looks at after a run -- data, model, training curves, metrics,
the worst mistakes and, once exported, the benchmark of every artifact.

Everything is read back from the run folder, so the report can be rewritten at any time (`keras-tl report`),
e.g. after an export has added export/export_report.json.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Optional

import keras
import yaml

from keras_tl.config import config_to_dict
from keras_tl.data import SPLITS, ScanReport, label_counts, load_split
from keras_tl.evaluate import markdown as md
from keras_tl.evaluate.export_results import meaningful_figures, not_passed, read_export_results, table as export_table
from keras_tl.evaluate.plots import plot_history
from keras_tl.evaluate.report_html import write_html
from keras_tl.models import base_layers, get_backbone, input_size, load_trained_model, text_encoder_family
from keras_tl.run import RunFolder, atomic_write_text
from keras_tl.run_files import REFERENCE, Metrics, SliceReport
from keras_tl.text_checkpoint import TEXT_FAMILIES
from keras_tl.train import history_value, read_history, trainable_per_phase


def write_report(run: RunFolder, model: Optional[keras.Model] = None) -> tuple[Path, Path]:
    """Write report.md and the self-contained report.html (images embedded); returns both paths."""
    config = run.config()
    rows = read_history(run.history_file, config.train.phase1.epochs)
    if rows:
        plot_history(rows, run.plots_dir / "history.png")
    if model is None and run.model_file.is_file():
        model = load_trained_model(run.model_file)
    metrics = Metrics.read(run.metrics_file)
    lines = [f"# Run {md.text(run.path.name)}", ""]
    lines += _run_section(run, config, rows)
    lines += _data_section(run, config)
    lines += _model_section(config, model, rows)
    lines += _training_section(rows, config)
    lines += _metrics_section(run, metrics, config.evaluate.split)
    lines += _export_section(run)
    text = "\n".join(lines) + "\n"
    atomic_write_text(run.report_file, text)
    write_html(text, run.path, run.html_report_file, title=f"keras_tl run {run.path.name}")
    return run.report_file, run.html_report_file


def _run_section(run: RunFolder, config, history: list[dict]) -> list[str]:
    """When the report was written, how long training took, and the resolved config the run used."""
    lines = [f"Report written {time.strftime('%Y-%m-%d %H:%M:%S %z')}."]
    record = run.training_record()
    attempts = record.get("attempts", [])
    if attempts:
        plural = f" over {len(attempts)} attempts" if len(attempts) > 1 else ""
        lines.append(f"Training: {len(history)} epochs, started {attempts[0]['started']}, took "
                     f"{_duration(record['seconds'])}{plural}.")
        if attempts[-1].get("command"):
            lines.append(f"Command: {md.code(attempts[-1]['command'])}.")
    elif run.model_file.is_file() and run.config_file.is_file():
        # A run trained before training.json existed: config.yaml is written when it starts, model.keras at the end.
        seconds = max(0.0, run.model_file.stat().st_mtime - run.config_file.stat().st_mtime)
        finished = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.model_file.stat().st_mtime))
        lines.append(f"Training: {len(history)} epochs, finished {finished}, took about {_duration(seconds)} "
                     f"(from the times {md.code('config.yaml')} and {md.code('model.keras')} were written).")
    resolved = yaml.safe_dump(config_to_dict(config), sort_keys=False).rstrip()
    return [" ".join(lines), "", "<details><summary>Resolved config</summary>",
            f"<pre><code>{html.escape(resolved, quote=False)}</code></pre>", "</details>", ""]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _data_section(run: RunFolder, config) -> list[str]:
    labels = run.labels()
    counts = {split: label_counts(load_split(run.splits_dir, split, config.data.label_separator)) for split in SPLITS}
    rows = [[label, *(str(counts[s][label]) for s in SPLITS), str(sum(counts[s][label] for s in SPLITS))]
            for label in labels]
    sizes = {s: sum(counts[s].values()) for s in SPLITS}
    rows.append(["all classes", *(str(sizes[s]) for s in SPLITS), str(sum(sizes.values()))])
    lines = ["## Data", "", f"Source: {md.code(config.data.source)}", ""]
    lines += md.table(["class", *SPLITS, "total"], rows)
    if run.scan_report_file.is_file():
        r = ScanReport.load(run.scan_report_file)
        lines += ["", f"Scan: {len(r.usable)} usable images, {len(r.converted)} converted, {len(r.quarantined)} "
                      f"quarantined, {len(r.ignored)} ignored, {len(r.duplicates)} groups of identical files."]
        if r.quarantined:
            lines += ["", "Quarantined (not used):", ""]
            lines += [f"- {md.code(q['path'])}: {md.text(q['reason'])}" for q in r.quarantined]
    return lines + [""]


def _model_section(config, model: Optional[keras.Model], history: list[dict]) -> list[str]:
    m, t = config.model, config.train
    spec = get_backbone(m.backbone)
    lines = ["## Model", ""]
    if m.uses_image:
        lines.append(f"Base {md.code(spec.name)} (weights: {md.code(m.weights)}), input {input_size(m)} px, "
                     f"{m.pooling} pooling, dropout {m.dropout}, hidden layers {md.text(m.hidden_units or 'none')}.")
    if m.uses_text:
        text = config.text
        fusion = f", {text.fusion} fusion with the image features" if m.uses_image else ""
        family = TEXT_FAMILIES.get(text_encoder_family(model) if model is not None else text.encoder)
        lines.append(f"Text tower: {family.title if family else 'encoder'} {md.code(text.weights)}, "
                     f"{text.max_length} tokens, {text.pooling} pooling, projected to {text.projection_units} "
                     f"units{fusion}; phase 2 unfreezes its top {text.fine_tune_layers} blocks at learning rate "
                     f"{text.learning_rate:g}.")
    if t.distribution != "none":
        lines[-1] += f" Trained with {md.code(t.distribution)} distribution ({md.code(t.lr_scaling)} LR scaling)."
    if model is None:
        return lines + ["", "No trained model in the run folder yet.", ""]
    total = model.count_params()
    boundary = t.phase2.fine_tune_from if t.phase2.fine_tune_from is not None else spec.fine_tune_from
    boundary = f"the top {boundary} base layers" if isinstance(boundary, int) else f"base from {boundary}"
    trainable = trainable_per_phase(model, config)
    run_epochs = [sum(1 for r in history if r["phase"] == phase) for phase in (1, 2)]
    lines += ["", f"{len(base_layers(model))} base layers, {total:,} parameters in total.", ""]
    lines += md.table(["phase", "what trains", "trainable parameters", "total parameters", "epochs run",
                       "learning rate"], [
        ["1", "head only (base frozen)", f"{trainable[0]:,}", f"{total:,}", f"{run_epochs[0]} of {t.phase1.epochs}",
         f"{t.phase1.learning_rate:g}"],
        ["2", f"head + {boundary} (BatchNorm frozen)", f"{trainable[1]:,}", f"{total:,}",
         f"{run_epochs[1]} of {t.phase2.epochs}", f"{t.phase2.learning_rate:g} (warmup + cosine)"],
    ])
    return lines + [""]


def _training_section(history: list[dict], config) -> list[str]:
    if not history:
        return ["## Training", "", "No epoch finished yet.", ""]
    lines = ["## Training", "", "![training curves: loss and accuracy per epoch, fine-tune start marked]"
                                "(plots/history.png)", ""]
    monitor = config.train.monitor
    values = [(history_value(r, monitor), int(r["epoch"]) + 1, r["phase"]) for r in history]
    if not any(v is not None for v, _, _ in values) and monitor.startswith("val_"):
        monitor = monitor.removeprefix("val_")  # no validation split: training stopped on the train metric
        values = [(history_value(r, monitor), int(r["epoch"]) + 1, r["phase"]) for r in history]
    values = [v for v in values if v[0] is not None]
    if values:
        pick = max if "accuracy" in monitor else min
        value, epoch, phase = pick(values)
        lines += [f"Best {md.code(monitor)}: {value:.4f} at epoch {epoch} (phase {phase}). TensorBoard: "
                  f"{md.code('tensorboard --logdir tensorboard')} shows both phases on one timeline.", ""]
    return lines


def _metrics_section(run: RunFolder, metrics: Metrics, preferred: str) -> list[str]:
    if not metrics.root:
        return ["## Metrics", "", "Not evaluated yet.", ""]
    scores = {split: m.scores() for split, m in metrics.root.items()}
    keys = sorted({k for split_scores in scores.values() for k in split_scores})
    rows = [[split, str(metrics.root[split].samples), *(f"{s[k]:.4f}" if k in s else "-" for k in keys)]
            for split, s in scores.items()]
    lines = ["## Metrics", ""] + md.table(["split", "images", *keys], rows) + [""]
    split = preferred if preferred in metrics.root else next(iter(metrics.root))
    detail = metrics.root[split]
    lines += [f"### Per class ({split} split)", ""]
    lines += md.table(["class", "precision", "recall", "f1", "support"], [
        [name, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", str(c.support)]
        for name, c in detail.per_class.items()]) + [""]
    lines += _figure(run, run.split_plot_file("confusion", split), f"confusion matrix of the {split} split")
    if detail.slices is not None:
        lines += _slices_section(run, detail.slices, split)
    lines += [f"### Worst misclassified ({split} split)", ""]
    misclassified = run.split_plot_file("misclassified", split)
    if misclassified.is_file():
        lines += ["Lowest probability for the true class first; caption: true label, then the prediction and its "
                  "probability.", ""]
        lines += _figure(run, misclassified, f"worst misclassified images of the {split} split")
        lines += [f"Every prediction: {md.code(run.predictions_file(split).relative_to(run.path).as_posix())}.", ""]
    else:
        lines += [f"No image of the {split} split is misclassified.", ""]
    return lines


def _slices_section(run: RunFolder, report: SliceReport, split: str) -> list[str]:
    lines = [f"### By {report.column} ({split} split)", ""]
    if report.worst is not None:
        lines += [f"Worst slice: {md.code(report.worst)}, {100 * report.worst_gap:.1f} points below the whole split "
                  f"({report.overall_accuracy:.4f}). Slices under {report.min_count} images are flagged, not "
                  "ranked.", ""]
    else:
        lines += [f"Every slice has fewer than {report.min_count} images: none is ranked.", ""]
    lines += md.table([report.column, "images", "accuracy", "macro F1", "note"], [
        [s.value, str(s.count), f"{s.accuracy:.4f}", f"{s.macro_f1:.4f}",
         "worst" if s.value == report.worst else "too few images" if s.too_small else ""]
        for s in report.slices]) + [""]
    alt = f"accuracy by {report.column} on the {split} split"
    return lines + _figure(run, run.split_plot_file("slices", split), alt)


def _figure(run: RunFolder, path: Path, alt: str) -> list[str]:
    """A Markdown image of a file in the run folder, linked relative to it (nothing when it is not there)."""
    return [f"![{alt}]({path.relative_to(run.path).as_posix()})", ""] if path.is_file() else []


def _export_section(run: RunFolder) -> list[str]:
    results = read_export_results(run)
    if not results.present:
        return []
    lines = ["## Export benchmark", ""]
    if results.problem:
        return lines + [md.text(results.problem), ""]
    report, facts = results.report, []
    if report.command:
        created = (report.created or "")[:16].replace("T", " ")
        facts.append(f"Written by {md.code('keras-tl ' + report.command)}"
                     + (f" on {md.text(created)}" if created else ""))
    if report.split:
        facts.append(f"verified on the {md.text(report.split)} split ({report.samples or '?'} images)")
    if report.keras_accuracy is not None:
        facts.append(f"Keras reference accuracy {report.keras_accuracy:.4f}")
    failed = not_passed(results.entries)
    artifacts = [e for e in results.entries if e.outcome != REFERENCE]
    if failed:
        names = ", ".join(md.text(e.name) for e in failed)
        facts.append(f"**{len(failed)} of {len(artifacts)} artifacts FAILED verification**: {names}")
    elif meaningful_figures(results).get("all_passed"):
        facts.append(f"all {len(artifacts)} artifacts passed verification")
    if facts:
        lines += ["; ".join(facts) + ".", ""]
    if results.entries:
        headers, rows = export_table(results.entries)
        lines += md.table(headers, rows) + [""]
    return lines
