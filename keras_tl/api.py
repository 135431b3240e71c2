"""The public API: what the CLI calls, and what a script would call. Each function does one whole step."""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path
from typing import Optional

from keras_tl.config import ExperimentConfig, config_to_dict, save_config
from keras_tl.data import PreparedData, check_source, load_prepared, prepare_data, prepare_text, warnings_for
from keras_tl.data.scan import ScanReport
from keras_tl.errors import RunFolderError, WriteFailed
from keras_tl.evaluate import evaluate_run, write_report
from keras_tl.models import build_model, check_model_config, load_trained_model, save_model_atomically
from keras_tl.progress import progress
from keras_tl.run import RunFolder
from keras_tl.train import fit_two_phase, seed_everything
from keras_tl.train.distribution import lr_factor, place, scaled_for_replicas, worker_scratch
from keras_tl.train.keras_multi_worker import multi_worker_fit

# Settings that may change between an interrupted run and its rerun without making it a different experiment.
_RERUN_SAFE_KEYS = ("train.verbose", "evaluate", "export")


def run_folder_for(config: ExperimentConfig) -> RunFolder:
    if not config.name:
        raise RunFolderError("the config has no name; set 'name:' or pass a config file (its stem is the name)")
    return RunFolder(Path(config.output_dir) / config.name)


def train_model(config: ExperimentConfig, *, overwrite: bool = False, resume: bool = False, log=print) -> RunFolder:
    """Prepare data, train both phases, save model.keras, evaluate and write the report. Rerun to resume.

    With train.distribution set, run the same call on every worker; only the chief writes the run folder."""
    run = run_folder_for(config)
    check_model_config(config.model)  # a bad backbone/size/weights fails before anything is written
    placement = place(config.train)  # before any TensorFlow op: a multi-worker strategy must exist first
    workspace = run if placement.is_chief else worker_scratch(run, placement.task, fresh=overwrite)
    _claim_run_folder(workspace, config, overwrite=overwrite, resume=resume, log=log)
    try:
        return _train_into(run, workspace, placement, config, log)
    except OSError as err:
        # Disk full / quota / file-size limit while writing checkpoints or results: the epochs already backed up
        # are safe, so say how to continue instead of showing a traceback.
        hint = "free some space" if _out_of_space(err) else "make sure it is writable"
        raise WriteFailed(f"writing to {workspace.path} failed ({describe_os_error(err)}); {hint}, then rerun "
                          "the same command to resume") from None


def _train_into(run: RunFolder, workspace: RunFolder, placement, config: ExperimentConfig, log) -> RunFolder:
    seed_everything(config.seed, config.train.deterministic)
    data = _data_for(workspace, config, log)
    for warning in warnings_for(data):
        log(f"warning: {warning}")
    if config.model.uses_text:
        prepare_text(data, workspace, config.text)
    if placement.replicas > 1 or placement.kind != "none":
        plural = "s" if placement.replicas != 1 else ""
        log(f"{placement.kind}: {placement.replicas} replica{plural}, {config.data.batch_size} images per replica and "
            f"step, learning rates x{lr_factor(config.train, placement.replicas):g}")
    with placement.strategy.scope():
        model = build_model(config, data.num_classes)
        with multi_worker_fit(model, enabled=placement.multi_worker):
            fit_two_phase(model, data, scaled_for_replicas(config, placement.replicas), workspace, log=log)
    if not placement.is_chief:
        shutil.rmtree(workspace.path, ignore_errors=True)
        log(f"worker {placement.task} finished; the chief writes {run.path}")
        return run
    save_model_atomically(model, run.model_file)
    # A multi-worker model would run every prediction as a collective with workers that have already left.
    evaluate_run(run, model=None if placement.multi_worker else model, data=data, progress=True)
    write_report(run, model=model)
    return run


def describe_os_error(err: OSError) -> str:
    """One line: the reason and the file. h5py packs both (and much more) into a multi-line message."""
    text = str(err)
    h5_reason = re.search(r"error message = '([^']*)'", text)
    h5_file = re.search(r"filename = '([^']*)'", text)
    if h5_reason:
        reason = h5_reason.group(1)
    else:
        reason = err.strerror or (text.strip().splitlines()[0][:200] if text.strip() else type(err).__name__)
    filename = getattr(err, "filename", None) or (h5_file.group(1) if h5_file else None)
    return f"{reason} at {filename}" if filename else reason


def _out_of_space(err: OSError) -> bool:
    # h5py reports a failed write without errno, so also look at the text.
    text = str(err).lower()
    return err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or "space" in text or "too large" in text


def evaluate_model(run_dir: str | Path, split: Optional[str] = None) -> dict:
    """Metrics of a trained run on one of its splits (also written to its metrics.json and the report)."""
    run = RunFolder(run_dir)
    model = load_trained_model(run.require_model())
    metrics = evaluate_run(run, split, model=model, progress=True)
    write_report(run, model=model)
    return metrics


def write_run_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Rewrite report.md and report.html from what the run folder holds (after an export: with its benchmark)."""
    return write_report(RunFolder(run_dir))


def check_data(config: ExperimentConfig) -> tuple[ScanReport, dict]:
    """Scan a data source without writing anything; returns the report and the usable images per class."""
    samples, report = check_source(config.data, config.model.multi_label, progress=_scan_progress)
    counts: dict[str, int] = {}
    for sample in samples:
        for label in sample.labels:
            counts[label] = counts.get(label, 0) + 1
    return report, dict(sorted(counts.items()))


def _data_for(run: RunFolder, config: ExperimentConfig, log) -> PreparedData:
    if run.scan_report_file.is_file() and (run.splits_dir / "train.txt").is_file():
        return load_prepared(run, config.data, config.model.multi_label)
    log(f"scanning {config.data.source} ...")
    data = prepare_data(config.data, run, seed=config.seed, multi_label=config.model.multi_label,
                        progress=_scan_progress)
    for line in data.report.summary_lines()[:1]:
        log(line)
    return data


def _scan_progress(results):
    return progress(results, "scanning images", unit="img")


def _claim_run_folder(run: RunFolder, config: ExperimentConfig, *, overwrite: bool, resume: bool, log) -> None:
    if run.config_file.is_file() and not overwrite and not _has_progress(run):
        overwrite = True  # an attempt that failed before training: nothing to keep, nothing to resume
    if run.config_file.is_file() and not overwrite:
        differences = _differences(config_to_dict(run.config()), config_to_dict(config))
        if differences and not resume:
            raise RunFolderError(
                f"{run.path} holds a different experiment ({', '.join(differences[:3])} differ): pass --overwrite "
                "to start over, --resume to continue it with the new settings, or choose another name")
        log(f"resuming run {run.path}")
    elif overwrite and run.path.exists():
        _clear(run)
    run.ensure()
    save_config(config, run.config_file)


def _has_progress(run: RunFolder) -> bool:
    return run.history_file.is_file() or run.model_file.is_file() or (
        run.checkpoints_dir.is_dir() and any(run.checkpoints_dir.iterdir()))


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    out = []
    for key in keys:
        path = f"{prefix}{key}"
        if any(path == safe or path.startswith(safe + ".") for safe in _RERUN_SAFE_KEYS):
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, path + ".")
        elif a != b:
            out.append(path)
    return out


def _clear(run: RunFolder) -> None:
    if not run.config_file.is_file() and any(run.path.iterdir()):
        raise RunFolderError(f"{run.path} exists and is not a keras-tl run folder; refusing to delete it")
    shutil.rmtree(run.path)
