"""The export stage's public API: what ``keras-tl export`` / ``keras-tl benchmark`` call, and what a script would."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Sequence

from export.artifacts import ArtifactSpec, plan, remove_leftovers, spec_for_file
from export.errors import ExportError
from export.exporter import Exporter, agreement_summary, size_ratio
from export.inputs import RunInputs
from export.report import REPORT_NAME, ArtifactResult, format_table, write_report
from keras_tl import KerasTLError, write_run_report
from keras_tl.config import ExperimentConfig, load_config, parse_override
from keras_tl.run import RunFolder

WORK_PREFIX = ".work-"
_EVERY_SPEC, _ = plan(("tflite", "onnx"), ("fp32", "fp16", "dynamic", "int8"))


def export_run(run_dir: str | Path, overrides: Iterable[str] = (), *, log: Callable[[str], None] = print) -> dict:
    """Export a trained run to every requested format and precision, verify each artifact against the Keras
    model, benchmark them all, and write RUN/export/export_report.json (returned as a dict)."""
    run = RunFolder(run_dir)
    config = load_run_config(run, overrides)
    settings = config.export
    _refuse_unavailable(settings)
    specs, skipped = plan(settings.formats, settings.quantize)
    if not specs:
        raise ExportError(f"nothing to export: no format in {settings.formats} has a precision in {settings.quantize}")
    inputs = RunInputs(run, config)
    export_dir = run.ensure().export_dir
    export_dir.mkdir(exist_ok=True)
    _clean_interrupted(export_dir)
    if skipped:
        log(f"not built (ONNX takes fp32 and int8 only): {', '.join(skipped)}")
    previous = _previous_details(run)  # read before any file of this export replaces an earlier one
    with tempfile.TemporaryDirectory(dir=export_dir, prefix=WORK_PREFIX) as work:
        exporter = Exporter(inputs, settings, Path(work), log=log)
        log(f"verifying on the {inputs.split} split ({len(exporter.targets)} images)")
        built = [exporter.export(spec) for spec in specs]
    results = sorted(built + _measure_present(exporter, previous, skip=specs, retire_failed=True), key=_order)
    return _finish(exporter, results, "export", log)


def benchmark_run(run_dir: str | Path, overrides: Iterable[str] = (), *, log: Callable[[str], None] = print) -> dict:
    """Size, accuracy, agreement and latency of the Keras model and every artifact in RUN/export, in one run;
    rewrites export_report.json."""
    run = RunFolder(run_dir)
    config = load_run_config(run, overrides)
    exporter = Exporter(RunInputs(run, config), config.export, None, log=log)
    results = _measure_present(exporter, _previous_details(run))
    if not results:
        log(f"no exported artifacts in {run.export_dir}; run 'keras-tl export {run.path}' to make some")
    return _finish(exporter, results, "benchmark", log)


def _measure_present(exporter: Exporter, previous: dict, skip: Sequence[ArtifactSpec] = (), *,
                     retire_failed: bool = False) -> list[ArtifactResult]:
    """Verify the artifact files already in the export folder (except ``skip``) against the current model.

    Export retires those that fail (a retrained model leaves them stale), so that every file under a final name
    has passed; benchmark only reports."""
    results = []
    for path in exporter.export_dir.glob("model_*"):
        spec = spec_for_file(path)
        if spec is None or spec in skip:
            continue
        verification, details = exporter.verify(spec, path), previous.get(path.name, {})
        if retire_failed and not verification.passed:
            results.append(exporter.publish(spec, path, verification, details))
        else:
            results.append(exporter.describe(spec, path, verification, details))
    return sorted(results, key=_order)


def _order(result: ArtifactResult) -> int:
    return _EVERY_SPEC.index(ArtifactSpec(result.format, result.precision))


def load_run_config(run: RunFolder, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """The run's saved config with ``export.*`` overrides applied (other sections describe the trained model)."""
    overrides = list(overrides)
    for item in overrides:
        key, _ = parse_override(item)
        if key != "export" and not key.startswith("export."):
            raise ExportError(f"override '{item}': export and benchmark take only export.* overrides")
    run.config()  # a clear error when the folder is not a run
    return load_config(run.config_file, overrides)


def run_from_cli(args) -> int:
    overrides = list(args.override)
    for flag, key in (("formats", "export.formats"), ("quantize", "export.quantize")):
        value = getattr(args, flag, None)
        if value:
            overrides.append(f"{key}=[{value}]")
    if getattr(args, "keep_failed", False):
        overrides.append("export.keep_failed=true")
    if getattr(args, "prune", None) is not None:
        overrides.append(f"export.prune={args.prune}")
    if getattr(args, "qat", False):
        overrides.append("export.qat=true")
    report = export_run(args.run_dir, overrides)
    print(Path(args.run_dir) / "export" / REPORT_NAME)
    return 0 if report["all_passed"] else 1


def benchmark_from_cli(args) -> int:
    report = benchmark_run(args.run_dir, list(args.override))
    print(Path(args.run_dir) / "export" / REPORT_NAME)
    return 0 if report["all_passed"] else 1


def _finish(exporter: Exporter, results: Sequence[ArtifactResult], command: str, log) -> dict:
    keras = exporter.keras_result()
    exporter.measure_latency(keras, results)
    settings = exporter.config
    report = write_report(
        exporter.inputs.run, keras=keras, artifacts=results, split=exporter.inputs.split,
        samples=len(exporter.targets), labels=exporter.inputs.labels, command=command,
        thresholds=settings.thresholds.model_dump(), benchmark={**settings.benchmark.model_dump(), "batch": 1})
    log(format_table(keras, results))
    log(agreement_summary(results))
    ratio = size_ratio(results, "int8")
    if ratio is not None:
        log(f"full-int8 TFLite is {ratio:.2f}x the size of the fp32 TFLite")
    try:
        _, html = write_run_report(exporter.inputs.run.path)  # the run report gains the benchmark table
        log(f"report: {html}")
    except KerasTLError as err:  # the export itself succeeded; a stale report is not worth failing it
        log(f"warning: the run report was not updated: {err}")
    return report


def _refuse_unavailable(settings) -> None:
    # Pruning and QAT come with the TFMOT bridge; until then they must not be silently ignored.
    if settings.prune is not None or settings.qat:
        raise ExportError("pruning (--prune / export.prune) and QAT (--qat / export.qat) are not available yet")


def _clean_interrupted(export_dir: Path) -> None:
    remove_leftovers(export_dir)
    for stale in export_dir.glob(WORK_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)


def _previous_details(run: RunFolder) -> dict[str, dict]:
    """Build settings of the artifacts from the last export (a benchmark cannot know how a file was built)."""
    path = run.export_dir / REPORT_NAME
    try:
        entries = json.loads(path.read_text(encoding="utf-8")).get("artifacts", [])
    except (OSError, ValueError):
        return {}
    return {Path(e["path"]).name: e.get("details", {}) for e in entries if e.get("path")}
