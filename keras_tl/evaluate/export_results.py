"""Read RUN/export/export_report.json (written by `keras-tl export` / `benchmark`) for the report and `compare`.

The file holds one entry per artifact (docs/export.md: path, format, precision, size_bytes, accuracy,
top1_agreement, max_abs_diff, latency_ms_p50, runtime, ...) plus run-level figures such as the Keras reference
accuracy. Whatever of that is present is shown; nothing here depends on the export package itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from keras_tl.run import RunFolder

# Shown in this order when present; other keys of an entry are left out of the table (they stay in the JSON).
COLUMNS = ("path", "format", "precision", "size_bytes", "accuracy", "top1_agreement", "max_abs_diff",
           "latency_ms_p50", "latency_ms_p90", "runtime", "status")
HEADERS = {"path": "artifact", "size_bytes": "size MB", "top1_agreement": "top-1 agreement",
           "max_abs_diff": "max |diff|", "latency_ms_p50": "p50 ms", "latency_ms_p90": "p90 ms"}
_ENTRY_KEYS = {"accuracy", "size_bytes", "latency_ms_p50", "format"}
# Run-level figures worth showing next to the table; the rest (version, run path, ...) stay in the JSON.
MEANINGFUL_FIGURES = ("keras_accuracy", "all_passed")


@dataclass
class ExportResults:
    entries: list[dict] = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # run-level scalars, e.g. the Keras reference accuracy
    problem: Optional[str] = None  # why the file could not be read

    @property
    def present(self) -> bool:
        return bool(self.entries or self.figures or self.problem)


def export_report_file(run: RunFolder) -> Path:
    return run.export_dir / "export_report.json"


def read_export_results(run: RunFolder) -> ExportResults:
    path = export_report_file(run)
    if not path.is_file():
        return ExportResults()
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return ExportResults(problem=f"{path.name} could not be read ({type(err).__name__}: {err})")
    if isinstance(report, list):
        return ExportResults(entries=[e for e in report if isinstance(e, dict)])
    results = ExportResults()
    if not isinstance(report, dict):
        results.problem = f"{path.name} holds a {type(report).__name__}, not entries"
        return results
    for key, value in report.items():
        if isinstance(value, list) and value and all(isinstance(e, dict) for e in value):
            results.entries += value
        elif isinstance(value, dict) and _ENTRY_KEYS & set(value):
            results.entries.append({"path": key, **value})  # e.g. a "keras" reference entry
        elif isinstance(value, (int, float, str, bool)):
            results.figures[key] = value
    return results


def table(entries: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted rows of the benchmark table (only the columns some entry has)."""
    entries = [{**e, "status": status(e)} if status(e) else e for e in entries]
    columns = [c for c in COLUMNS if any(c in e for e in entries)]
    rows = [[format_value(c, e.get(c)) if c != "path" or e.get(c) else f"{entry_name(e)} (no file)" for c in columns]
            for e in entries]
    return [HEADERS.get(c, c) for c in columns], rows


def status(entry: dict) -> Optional[str]:
    """passed / failed / error / reference: the entry's status, or what its ``passed`` flag says."""
    if entry.get("status"):
        return str(entry["status"])
    if "passed" in entry:
        return "passed" if entry["passed"] else "failed"
    return None


def not_passed(entries: list[dict]) -> list[dict]:
    return [e for e in entries if status(e) in ("failed", "error")]


def meaningful_figures(results: ExportResults) -> dict:
    return {k: results.figures[k] for k in MEANINGFUL_FIGURES if k in results.figures}


def entry_name(entry: dict) -> str:
    parts = [str(entry[k]) for k in ("format", "precision") if entry.get(k) not in (None, "")]
    return " ".join(parts) or Path(str(entry.get("path", "?"))).name


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
