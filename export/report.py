"""export_report.json and the table printed after export and benchmark.

The file is a keras_tl.run_files.ExportReport (docs/export.md): one ArtifactEntry per artifact -- path, format,
precision, size_bytes, sha256, accuracy, top1_agreement, max_abs_diff, latency_ms_p50, runtime, plus p90,
threshold, passed and status -- and the Keras model's own row (its accuracy is the reference every artifact is
compared with).
"""

from __future__ import annotations

import time
from typing import Optional, Sequence

from keras_tl import __version__
from keras_tl.run import RunFolder
from keras_tl.run_files import ERROR, FAILED, PASSED, REFERENCE, ArtifactEntry, ExportReport

__all__ = ["ERROR", "FAILED", "PASSED", "REFERENCE", "ArtifactEntry", "format_table", "write_report"]


def write_report(run: RunFolder, *, keras: ArtifactEntry, artifacts: Sequence[ArtifactEntry], split: str,
                 samples: int, labels: Sequence[str], thresholds: dict, benchmark: dict, command: str,
                 compression: Optional[dict] = None) -> ExportReport:
    report = ExportReport(
        run=str(run.path), created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), keras_tl_version=__version__,
        command=command, split=split, samples=samples, labels=list(labels), thresholds=thresholds,
        benchmark=benchmark, keras_accuracy=keras.accuracy, keras=keras, artifacts=list(artifacts),
        all_passed=all(a.passed for a in artifacts), compression=compression)
    report.write(run.export_report_file)
    return report


_COLUMNS = ("", "artifact", "runtime", "status", "size KB", "x fp32", "accuracy", "agreement", "max|diff|",
            "p50 ms", "p90 ms")


def format_table(keras: ArtifactEntry, artifacts: Sequence[ArtifactEntry]) -> str:
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
