"""The export stage's public API: what ``keras-tl export`` / ``keras-tl benchmark`` call, and what a script would."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from keras_tl.export.artifacts import ArtifactSpec, plan, remove_leftovers, spec_for_file
from keras_tl.export.errors import ExportError
from keras_tl.export.exporter import Exporter, agreement_summary, size_ratio
from keras_tl.export.inputs import RunInputs
from keras_tl.export.tfmot import pipeline as tfmot_pipeline
from keras_tl.export.report import ArtifactEntry, format_table, write_report
from keras_tl import KerasTLError, write_run_report
from keras_tl.config import ExperimentConfig, load_config, parse_override
from keras_tl.run import RunFolder
from keras_tl.run_files import ExportReport

WORK_PREFIX = ".work-"
_EVERY_SPEC, _ = plan(("tflite", "onnx"), ("fp32", "fp16", "dynamic", "int8", "qat_int8"))


def export_run(run_dir: str | Path, overrides: Iterable[str] = (), *, log: Callable[[str], None] = print) -> dict:
    """Export a trained run to every requested format and precision, verify each artifact against the Keras
    model, benchmark them all, and write RUN/export/export_report.json (returned as a dict)."""
    run = RunFolder(run_dir)
    config = load_run_config(run, overrides)
    tfmot_pipeline.refuse_transformer_compression(config)
    settings = config.export
    specs, skipped = plan(settings.formats, settings.quantize)  # never empty: the schema refuses that
    inputs = RunInputs(run, config)
    export_dir = run.ensure().export_dir
    export_dir.mkdir(exist_ok=True)
    _clean_interrupted(export_dir)
    if inputs.takes_text:  # edge runners tokenize with the run's own file, next to the artifacts
        shutil.copyfile(run.tokenizer_file, export_dir / run.tokenizer_file.name)
    if skipped:
        log(f"not built (ONNX takes fp32 and int8 only): {', '.join(skipped)}")
    previous = _previous_entries(run)  # read before any file of this export replaces an earlier one
    with tempfile.TemporaryDirectory(dir=export_dir, prefix=WORK_PREFIX) as work:
        compression = tfmot_pipeline.compress(inputs, Path(work), log)  # pruning swaps in the pruned model
        exporter = Exporter(inputs, settings, Path(work), log=log)
        exporter.references.update(compression.references if compression else
                                   tfmot_pipeline.exported_references(inputs))
        if compression:
            exporter.builder.other_sources.update(compression.sources)
            specs += compression.specs
        log(f"verifying on {inputs.verify_count} images of every split; accuracy on the {inputs.split} split "
            f"({inputs.accuracy_rows} images)")
        built = [exporter.export(spec) for spec in specs]
        results = built + _measure_present(exporter, _details(previous), skip=specs, retire_failed=True)
        results = sorted(results + _still_failed(run, previous, results), key=_order)
        section = tfmot_pipeline.record(compression, exporter, results) if compression else None
    return _finish(exporter, results, "export", log, section)


def benchmark_run(run_dir: str | Path, overrides: Iterable[str] = (), *, log: Callable[[str], None] = print) -> dict:
    """Size, accuracy, agreement and latency of the Keras model and every artifact in RUN/export, in one run;
    rewrites export_report.json."""
    run = RunFolder(run_dir)
    config = load_run_config(run, overrides)
    inputs = RunInputs(run, config)
    compression = tfmot_pipeline.use_exported_model(inputs)  # a pruned export is measured against its model
    exporter = Exporter(inputs, config.export, None, log=log)
    exporter.references.update(tfmot_pipeline.exported_references(inputs))
    previous = _previous_entries(run)
    results = _measure_present(exporter, _details(previous))
    results = sorted(results + _still_failed(run, previous, results), key=_order)
    if not results:
        log(f"no exported artifacts in {run.export_dir}; run 'keras-tl export {run.path}' to make some")
    return _finish(exporter, results, "benchmark", log, compression)


def _measure_present(exporter: Exporter, previous: dict, skip: Sequence[ArtifactSpec] = (), *,
                     retire_failed: bool = False) -> list[ArtifactEntry]:
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


def _order(result: ArtifactEntry) -> int:
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
    print(RunFolder(args.run_dir).export_report_file)
    return 0 if report["all_passed"] else 1


def benchmark_from_cli(args) -> int:
    report = benchmark_run(args.run_dir, list(args.override))
    print(RunFolder(args.run_dir).export_report_file)
    return 0 if report["all_passed"] else 1


def _finish(exporter: Exporter, results: Sequence[ArtifactEntry], command: str, log,
            compression: Optional[dict] = None) -> dict:
    keras = exporter.keras_result()
    exporter.measure_latency(keras, results)
    settings = exporter.config
    report = write_report(
        exporter.inputs.run, keras=keras, artifacts=results, split=exporter.inputs.split,
        samples=len(exporter.targets), labels=exporter.inputs.labels, command=command,
        thresholds=settings.thresholds.model_dump(), benchmark={**settings.benchmark.model_dump(), "batch": 1},
        compression=compression)
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
    return report.model_dump(mode="json")  # what export_report.json holds


def _clean_interrupted(export_dir: Path) -> None:
    remove_leftovers(export_dir)
    for stale in export_dir.glob(WORK_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)


def _previous_entries(run: RunFolder) -> list[ArtifactEntry]:
    """The artifact entries of the last export_report.json (none when it is missing or is no report: this export
    replaces it)."""
    try:
        report = ExportReport.read(run.export_report_file)
    except KerasTLError:
        return []
    return report.artifacts if report else []


def _details(entries: list[ArtifactEntry]) -> dict[str, dict]:
    """Build settings of the artifacts from the last export (a benchmark cannot know how a file was built)."""
    return {Path(e.path).name: e.details for e in entries if e.path}


def _still_failed(run: RunFolder, previous: list[ArtifactEntry],
                  results: Sequence[ArtifactEntry]) -> list[ArtifactEntry]:
    """Artifacts the last report lists as failed (or not built) that nothing measured now replaces.

    A failed artifact leaves no file under its final name, so a benchmark would otherwise forget it and report
    every artifact as passed; it stays failed until an export builds it again."""
    measured = {(r.format, r.precision) for r in results}
    kept = []
    for entry in previous:
        spec = (entry.format, entry.precision)
        if entry.passed or spec in measured or ArtifactSpec(*spec) not in _EVERY_SPEC or not entry.status:
            continue
        gone = entry.path and not (run.path / entry.path).is_file()  # a .failed file deleted since
        kept.append(entry.model_copy(update={"passed": False, "latency_ms_p50": None, "latency_ms_p90": None,
                                             **({"path": None} if gone else {})}))
    return kept
