"""RUN/export/export_report.json (written by `keras-tl export` / `benchmark`) as the report and `compare` show it.

The file is a keras_tl.run_files.ExportReport: one entry per artifact (docs/export.md) plus run-level figures such
as the Keras reference accuracy. Whatever of that is present is shown; nothing here depends on the export package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from keras_tl.errors import RunFolderError
from keras_tl.run import RunFolder
from keras_tl.run_files import ERROR, FAILED, ArtifactEntry, ExportReport

# Shown in this order when some entry has them; other fields of an entry stay in the JSON.
COLUMNS = ("path", "format", "precision", "size_bytes", "accuracy", "top1_agreement", "max_abs_diff",
           "latency_ms_p50", "latency_ms_p90", "runtime", "status")
HEADERS = {"path": "artifact", "size_bytes": "size MB", "top1_agreement": "top-1 agreement",
           "max_abs_diff": "max |diff|", "latency_ms_p50": "p50 ms", "latency_ms_p90": "p90 ms"}
# Run-level figures worth showing next to the table; the rest (version, run path, ...) stay in the JSON.
MEANINGFUL_FIGURES = ("keras_accuracy", "all_passed")


@dataclass
class ExportResults:
    report: Optional[ExportReport] = None
    problem: Optional[str] = None  # why the file could not be read

    @property
    def entries(self) -> list[ArtifactEntry]:
        return self.report.entries if self.report else []

    @property
    def present(self) -> bool:
        return bool(self.entries or meaningful_figures(self) or self.problem)


def read_export_results(run: RunFolder) -> ExportResults:
    """The run's export report; a file that is not one is shown as the problem it is, never a failure."""
    try:
        return ExportResults(report=ExportReport.read(run.export_report_file))
    except RunFolderError as err:
        return ExportResults(problem=str(err))


def table(entries: list[ArtifactEntry]) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted rows of the benchmark table (only the columns some entry has)."""
    columns = [c for c in COLUMNS if any(_value(e, c) is not None for e in entries)]
    rows = [[format_value(c, _value(e, c)) if c != "path" or e.path else f"{entry_name(e)} (no file)" for c in columns]
            for e in entries]
    return [HEADERS.get(c, c) for c in columns], rows


def _value(entry: ArtifactEntry, column: str) -> Any:
    return entry.outcome if column == "status" else getattr(entry, column)


def not_passed(entries: list[ArtifactEntry]) -> list[ArtifactEntry]:
    return [e for e in entries if e.outcome in (FAILED, ERROR)]


def meaningful_figures(results: ExportResults) -> dict:
    if results.report is None:
        return {}
    figures = {k: getattr(results.report, k) for k in MEANINGFUL_FIGURES}
    return {k: v for k, v in figures.items() if v is not None}


def entry_name(entry: ArtifactEntry) -> str:
    parts = [value for value in (entry.format, entry.precision) if value]
    return " ".join(parts) or Path(entry.path or "?").name


def format_value(column: str, value) -> str:
    if value is None:
        return "-"
    if column == "path":
        return Path(str(value)).name
    if column == "size_bytes" and isinstance(value, (int, float)):
        return f"{value / 1e6:.2f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}" if column.startswith("latency") else f"{value:.4g}"
    return str(value)
