"""The public API: what the CLI calls, and what a script would call. Each function does one whole step."""

from __future__ import annotations

import errno
import re
import shutil
import time
from pathlib import Path
from typing import Optional

from keras_tl.config import ExperimentConfig, config_to_dict, save_config
from keras_tl.data import (PreparedData, ScanReport, SourceCheck, inspect_source, list_source, load_prepared,
                           prepare_data, prepare_text, warnings_for)
from keras_tl.errors import RunFolderError, WriteFailed
from keras_tl.evaluate import evaluate_run, write_report
from keras_tl.evaluate.features import write_features
from keras_tl.models import build_model, check_model_config, load_trained_model, save_model_atomically
from keras_tl.progress import progress
from keras_tl.run import RunFolder, is_own_entry
from keras_tl.train import fit_two_phase, seed_everything
from keras_tl.train.distribution import lr_factor, place, scaled_for_replicas, worker_scratch
from keras_tl.train.keras_multi_worker import multi_worker_fit
from keras_tl.train.speed import float32_model, precision_policy
from keras_tl.train.trainer import check_epochs

# Settings that may change between an interrupted run and its rerun without making it a different experiment.
_RERUN_SAFE_KEYS = ("train.verbose", "evaluate", "export")
# Settings that decide which images, labels and splits a run has, or the shape of its weights: a resumed run would
# keep the old ones while config.yaml names the new ones, so even --resume refuses them.
_FIXED_KEYS = ("seed", "data.source", "data.val_fraction", "data.test_fraction", "data.image_column",
               "data.label_column", "data.text_column", "data.label_separator", "data.allow_outside_root",
               "model.backbone", "model.weights", "model.input_size", "model.alpha", "model.pooling",
               "model.hidden_units", "model.multi_label", "model.modality", "text.weights", "text.max_length",
               "text.pooling", "text.projection_units", "text.fusion")
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def run_folder_for(config: ExperimentConfig) -> RunFolder:
    if not config.name:
        raise RunFolderError("the config has no name; set 'name:' or pass a config file (its stem is the name)")
    return RunFolder(Path(config.output_dir) / config.name)


def train_model(config: ExperimentConfig, *, overwrite: bool = False, resume: bool = False, log=print,
                command: Optional[str] = None) -> RunFolder:
    """Prepare data, train both phases, save model.keras, evaluate and write the report. Rerun to resume.

    ``command``: how the user asked for it (the CLI passes its command line), kept in training.json for the report.
    With train.distribution set, run the same call on every worker; only the chief writes the run folder."""
    run = run_folder_for(config)
    _refuse_overlap_with_data(run, config)
    check_model_config(config.model)  # a bad backbone/size/weights fails before anything is written
    placement = place(config.train)  # before any TensorFlow op: a multi-worker strategy must exist first
    workspace = run if placement.is_chief else worker_scratch(run, placement.task, fresh=overwrite)
    _claim_run_folder(workspace, config, overwrite=overwrite, resume=resume, log=log)
    try:
        return _train_into(run, workspace, placement, config, log, command)
    except OSError as err:
        # Disk full / quota / file-size limit while writing checkpoints or results: the epochs already backed up
        # are safe, so say how to continue instead of showing a traceback.
        hint = "free some space" if _out_of_space(err) else "make sure it is writable"
        raise WriteFailed(f"writing to {workspace.path} failed ({describe_os_error(err)}); {hint}, then rerun "
                          "the same command to resume") from None


def _train_into(run: RunFolder, workspace: RunFolder, placement, config: ExperimentConfig, log,
                command: Optional[str]) -> RunFolder:
    started = time.time()
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
        with precision_policy(config.train.mixed_precision):
            model = build_model(config, data.num_classes)
        with multi_worker_fit(model, enabled=placement.multi_worker):
            fit_two_phase(model, data, scaled_for_replicas(config, placement.replicas), workspace, log=log)
    if not placement.is_chief:
        shutil.rmtree(workspace.path, ignore_errors=True)
        log(f"worker {placement.task} finished; the chief writes {run.path}")
        return run
    model = float32_model(model)
    save_model_atomically(model, run.model_file)
    run.record_training(command, started, time.time())
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


def evaluate_model(run_dir: str | Path, split: Optional[str] = None, log=print, *,
                   slice_by: Optional[str] = None) -> dict:
    """Metrics of a trained run on one of its splits (also written to its metrics.json and the report); with
    ``slice_by`` (default: the run's evaluate.slice_by), per value of that manifest column too.

    On a read-only run folder the metrics are still computed and returned; ``log`` says they were not saved."""
    run = RunFolder(run_dir)
    model = load_trained_model(run.require_model())
    if not run.writable():
        log(f"note: cannot write to run folder {run.path}: it is read-only; the metrics below are not saved "
            "(copy the folder or make it writable to save them)")
        return evaluate_run(run, split, model=model, progress=True, save=False,
                            slice_by=slice_by).model_dump(exclude_none=True)
    try:
        metrics = evaluate_run(run, split, model=model, progress=True, slice_by=slice_by)
        write_report(run, model=model)
    except OSError as err:
        raise _write_error(run, err) from None
    return metrics.model_dump(exclude_none=True)  # what metrics.json holds for the split


def write_split_features(run_dir: str | Path, split: str = "train", output: Optional[str | Path] = None, *,
                         overwrite: bool = False) -> tuple[Path, int, int]:
    """The pooled base features of a split as an .npz file (default RUN/features/SPLIT.npz); returns
    (file, images, feature width)."""
    run = RunFolder(run_dir)
    target = Path(output) if output else run.features_dir / f"{split}.npz"
    try:
        return write_features(run, split, target, overwrite=overwrite)
    except OSError as err:
        raise WriteFailed(f"writing {target} failed ({describe_os_error(err)})") from None


def write_run_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Rewrite report.md and report.html from what the run folder holds (after an export: with its benchmark)."""
    run = RunFolder(run_dir)
    run.config()  # "not a keras-tl run folder" comes before "read-only"
    if not run.writable():
        raise _read_only(run)
    try:
        return write_report(run)
    except OSError as err:
        raise _write_error(run, err) from None


def _read_only(run: RunFolder) -> RunFolderError:
    return RunFolderError(f"cannot write to run folder {run.path}: it is read-only; copy it or make it writable")


def _write_error(run: RunFolder, err: OSError) -> RunFolderError:
    if err.errno in _READ_ONLY:  # a read-only sub-folder (plots/, predictions/) of a writable run folder
        return _read_only(run)
    return WriteFailed(f"writing to {run.path} failed ({describe_os_error(err)})")


def check_data(config: ExperimentConfig) -> SourceCheck:
    """Scan a data source without writing anything: usable images per class, warnings, and ``problems()`` (what
    training on it would refuse)."""
    return inspect_source(config.data, config.model.multi_label, progress=_scan_progress)


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


def _refuse_overlap_with_data(run: RunFolder, config: ExperimentConfig) -> None:
    """keras_tl writes and deletes inside its run folder, so that folder and the data may never share files."""
    source = Path(config.data.source).expanduser() if config.data.source else None
    if source is None or not source.exists():
        return  # the scan says what is wrong with the source
    root = (source if source.is_dir() else source.parent).resolve()  # a manifest's folder holds its images
    folder = run.path.expanduser().resolve()
    if folder == root:
        where = "is the data folder"
    elif folder.is_relative_to(root):
        where = "is inside the data folder"
    elif root.is_relative_to(folder):
        where = "contains the data folder"
    else:
        return
    raise RunFolderError(f"the run folder {folder} {where} {root}: keras-tl never writes into its data; change "
                         "output_dir (or name) so that the run folder lies outside it")


def _claim_run_folder(run: RunFolder, config: ExperimentConfig, *, overwrite: bool, resume: bool, log) -> None:
    if run.config_file.is_file() and not overwrite:
        if _has_progress(run):
            _check_rerun(run, config, resume=resume)
            log(f"resuming run {run.path}")
        else:
            overwrite = True  # an attempt that failed before training: nothing to keep, nothing to resume
    if overwrite and run.path.exists():
        _clear(run, log)
    run.ensure()
    save_config(config, run.config_file)


def _check_rerun(run: RunFolder, config: ExperimentConfig, *, resume: bool) -> None:
    """A rerun does what the new config.yaml will say, or refuses: nothing may silently keep the old data."""
    differences = _differences(config_to_dict(run.config()), config_to_dict(config))
    fixed = [d for d in differences if any(d == key or d.startswith(key + ".") for key in _FIXED_KEYS)]
    if fixed:
        raise RunFolderError(
            f"{run.path} cannot continue with {', '.join(fixed[:3])} changed: its data, splits or model were made "
            "with the old value; pass --overwrite to start over, or -o name=NEW for a new run")
    if differences and not resume:
        raise RunFolderError(
            f"{run.path} holds a different experiment ({', '.join(differences[:3])} differ): pass --overwrite "
            "to start over, --resume to continue it with the new settings, or choose another name")
    check_epochs(run, config)
    _check_source_unchanged(run, config)


def _check_source_unchanged(run: RunFolder, config: ExperimentConfig) -> None:
    """Compare the source's file listing (no decoding) with what the run scanned."""
    if not run.scan_report_file.is_file():
        return
    data = config.data
    listing = list_source(data.source, multi_label=config.model.multi_label, label_separator=data.label_separator,
                          image_column=data.image_column, label_column=data.label_column,
                          text_column=data.text_column, allow_outside_root=data.allow_outside_root)
    report = ScanReport.load(run.scan_report_file)
    scanned = {row["path"] for row in report.usable + report.quarantined}
    listed = {sample.path for sample in listing.samples}
    added, removed = sorted(listed - scanned), sorted(scanned - listed)
    if added or removed:
        example = ", ".join([f"+{p}" for p in added[:2]] + [f"-{p}" for p in removed[:2]])
        raise RunFolderError(
            f"data source changed since this run was scanned: {len(added)} images added, {len(removed)} removed "
            f"(e.g. {example}); pass --overwrite to retrain on the new data, or -o name=NEW")


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


def _clear(run: RunFolder, log) -> None:
    """Delete what keras_tl wrote into the run folder, and only that: the folder and anything else stay."""
    entries = sorted(run.path.iterdir())
    if not run.config_file.is_file() and entries:
        raise RunFolderError(f"{run.path} exists and is not a keras-tl run folder; refusing to delete it")
    foreign = []
    for entry in entries:
        if not is_own_entry(entry.name):
            foreign.append(entry.name)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()  # a symlink goes, never what it points to
    if foreign:
        log(f"note: left {len(foreign)} entries that keras-tl did not write in {run.path}: {', '.join(foreign[:5])}"
            + (", ..." if len(foreign) > 5 else ""))
