"""PNG plots of a run: training curves (phase boundary marked), the confusion matrix, misclassified thumbnails."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: runs write files, never open windows
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from keras_tl.run_files import PredictionRow, SliceReport  # noqa: E402
from keras_tl.train import history_value  # noqa: E402


def plot_history(rows: list[dict], path: Path) -> Path:
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            values = [history_value(r, key) for r in rows]
            if any(v is not None for v in values):
                ax.plot(epochs, [np.nan if v is None else v for v in values], style, marker="o", label=key)
        phase2 = [e for e, r in zip(epochs, rows) if r.get("phase") == 2]
        if phase2:
            ax.axvline(phase2[0] - 0.5, color="gray", linestyle=":", label="fine-tune starts")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric)
        ax.legend()
    return _save(fig, path)


def plot_confusion(matrix: Sequence[Sequence[int]], label_names: Sequence[str], path: Path) -> Path:
    data = np.asarray(matrix)
    side = max(4.0, 0.5 * len(label_names) + 2)
    fig, ax = plt.subplots(figsize=(side, side))
    ax.imshow(data, cmap="Blues")
    ax.set_xticks(range(len(label_names)), label_names, rotation=45, ha="right")
    ax.set_yticks(range(len(label_names)), label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(label_names) <= 30:
        threshold = data.max() / 2 if data.size else 0
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                ax.text(j, i, str(data[i, j]), ha="center", va="center",
                        color="white" if data[i, j] > threshold else "black", fontsize=8)
    return _save(fig, path)


def plot_misclassified(rows: list[PredictionRow], path: Path, columns: int = 6) -> Path | None:
    """A grid of thumbnails of misclassified images, captioned "true -> predicted (confidence)".

    Returns None (and removes an older grid) when nothing is misclassified; images gone from disk show as a note."""
    if not rows:
        path.unlink(missing_ok=True)
        return None
    columns = min(columns, len(rows))
    lines = (len(rows) + columns - 1) // columns
    fig, axes = plt.subplots(lines, columns, figsize=(2.0 * columns, 2.3 * lines), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows):
        try:
            with Image.open(row.file) as image:
                thumbnail = image.convert("RGB")
            thumbnail.thumbnail((256, 256))  # a camera photo would otherwise be drawn at full size
            ax.imshow(np.asarray(thumbnail))
        except OSError:
            ax.text(0.5, 0.5, "image gone", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(f"{row.label}\n-> {row.predicted} ({row.confidence:.2f})", fontsize=8)
    return _save(fig, path)


def plot_slices(report: SliceReport, path: Path) -> Path:
    """Accuracy per slice as horizontal bars, the whole split's accuracy as a line; too-small slices hatched."""
    slices = report.slices
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.35 * len(slices) + 1.2)))
    bars = ax.barh(range(len(slices)), [s.accuracy for s in slices],
                   color=["#d62728" if s.value == report.worst else "#1f77b4" for s in slices])
    for bar, s in zip(bars, slices):
        if s.too_small:
            bar.set_hatch("//")
            bar.set_alpha(0.5)
    ax.set_yticks(range(len(slices)), [f"{s.value} (n={s.count})" for s in slices])
    ax.axvline(report.overall_accuracy, color="gray", linestyle=":", label="whole split")
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy")
    ax.set_title(f"accuracy by {report.column} (hatched: under {report.min_count} images, not ranked)", fontsize=9)
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
