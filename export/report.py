"""export_report.json and the table printed after export and benchmark.

One entry per artifact (docs/export.md): path, format, precision, size_bytes, sha256, accuracy,
top1_agreement, max_abs_diff, latency_ms_p50, runtime -- plus p90, threshold, passed and status -- and the Keras
model's own row (its accuracy is the reference every artifact is compared with).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from keras_tl import __version__
from keras_tl.run import RunFolder, atomic_write_text

REPORT_NAME = "export_report.json"
PASSED, FAILED, ERROR, REFERENCE = "passed", "failed", "error", "reference"


@dataclass
class ArtifactResult:
    format: str
    precision: str
    runtime: str
    status: str
    path: Optional[str] = None  # relative to the run folder; None when no file was kept
    size_bytes: Optional[int] = None
    sha256: Optional[str] = None
    accuracy: Optional[float] = None
    top1_agreement: Optional[float] = None
    agreement_interval: Optional[list[float]] = None  # 95 % Wilson interval of top1_agreement: [low, high]
    verified_samples: Optional[int] = None  # images top1_agreement was measured on (every split of the run)
    max_abs_diff: Optional[float] = None
    threshold: Optional[float] = None
    passed: bool = False
    latency_ms_p50: Optional[float] = None
    latency_ms_p90: Optional[float] = None
    details: dict = field(default_factory=dict)
    error: Optional[str] = None

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else f"{self.format} {self.precision}"


def write_report(run: RunFolder, *, keras: ArtifactResult, artifacts: Sequence[ArtifactResult], split: str,
                 samples: int, labels: Sequence[str], thresholds: dict, benchmark: dict, command: str,
                 sections: Optional[dict] = None) -> dict:
    report = {
        "run": str(run.path),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "keras_tl_version": __version__,
        "command": command,
        "split": split,
        "samples": samples,
        "labels": list(labels),
        "thresholds": thresholds,
        "benchmark": benchmark,
        "keras_accuracy": keras.accuracy,
        "keras": asdict(keras),
        "artifacts": [asdict(a) for a in artifacts],
        "all_passed": all(a.passed for a in artifacts),
        **(sections or {}),  # e.g. "compression" (pruning / QAT)
    }
    run.export_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.export_dir / REPORT_NAME, json.dumps(report, indent=2) + "\n")
    return report


_COLUMNS = ("", "artifact", "runtime", "status", "size KB", "x fp32", "accuracy", "agreement", "max|diff|",
            "p50 ms", "p90 ms")


def format_table(keras: ArtifactResult, artifacts: Sequence[ArtifactResult]) -> str:
    """An aligned text table in the spirit of Ultralytics' benchmark output."""
    fp32_size = {a.format: a.size_bytes for a in artifacts if a.precision == "fp32" and a.size_bytes}
    rows = [_COLUMNS]
    for index, a in enumerate([keras, *artifacts]):
        base = fp32_size.get(a.format)
        size_kb = a.size_bytes / 1024 if a.size_bytes else None
        ratio = a.size_bytes / base if base and a.size_bytes else None
        rows.append((str(index), a.name, a.runtime, a.status, _num(size_kb, ",.0f"), _num(ratio, ".2f"),
                     _num(a.accuracy, ".4f"), _num(a.top1_agreement, ".4f"), _num(a.max_abs_diff, ".4f"),
                     _num(a.latency_ms_p50, ".2f"), _num(a.latency_ms_p90, ".2f")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(cell.rjust(w) if i >= 4 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    errors = [f"  {a.name}: {a.error}" for a in artifacts if a.error]
    return "\n".join(line.rstrip() for line in lines + errors)


def _num(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)
