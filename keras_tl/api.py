"""The public API: what the CLI calls, and what a script would call. Each function does one whole step."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from keras_tl.config import ExperimentConfig, config_to_dict, save_config
from keras_tl.data import PreparedData, check_source, load_prepared, prepare_data, warnings_for
from keras_tl.data.scan import ScanReport
from keras_tl.errors import RunFolderError
from keras_tl.evaluate import evaluate_run, write_report
from keras_tl.models import build_classifier, save_model_atomically
from keras_tl.run import RunFolder
from keras_tl.train import fit_two_phase, seed_everything
from keras_tl.train.speed import float32_model, precision_policy

# Settings that may change between an interrupted run and its rerun without making it a different experiment.
_RERUN_SAFE_KEYS = ("train.verbose", "evaluate", "export")


def run_folder_for(config: ExperimentConfig) -> RunFolder:
    if not config.name:
        raise RunFolderError("the config has no name; set 'name:' or pass a config file (its stem is the name)")
    return RunFolder(Path(config.output_dir) / config.name)


def train_model(config: ExperimentConfig, *, overwrite: bool = False, resume: bool = False, log=print) -> RunFolder:
    """Prepare data, train both phases, save model.keras, evaluate and write the report. Rerun to resume."""
    run = run_folder_for(config)
    _claim_run_folder(run, config, overwrite=overwrite, resume=resume, log=log)
    seed_everything(config.seed, config.train.deterministic)
    data = _data_for(run, config, log)
    for warning in warnings_for(data):
        log(f"warning: {warning}")
    with precision_policy(config.train.mixed_precision):
        model = build_classifier(config.model, data.num_classes)
    result = fit_two_phase(model, data, config, run, log=log)
    model = float32_model(model)
    save_model_atomically(model, run.model_file)
    metrics = evaluate_run(run, model=model, data=data)
    write_report(run, data, metrics, result.phases)
    return run


def evaluate_model(run_dir: str | Path, split: Optional[str] = None) -> dict:
    """Metrics of a trained run on one of its splits (also written to its metrics.json)."""
    return evaluate_run(RunFolder(run_dir), split)


def check_data(config: ExperimentConfig) -> tuple[ScanReport, dict]:
    """Scan a data source without writing anything; returns the report and the usable images per class."""
    samples, report = check_source(config.data, config.model.multi_label)
    counts: dict[str, int] = {}
    for sample in samples:
        for label in sample.labels:
            counts[label] = counts.get(label, 0) + 1
    return report, dict(sorted(counts.items()))


def _data_for(run: RunFolder, config: ExperimentConfig, log) -> PreparedData:
    if run.scan_report_file.is_file() and (run.splits_dir / "train.txt").is_file():
        return load_prepared(run, config.data, config.model.multi_label)
    log(f"scanning {config.data.source} ...")
    data = prepare_data(config.data, run, seed=config.seed, multi_label=config.model.multi_label)
    for line in data.report.summary_lines()[:1]:
        log(line)
    return data


def _claim_run_folder(run: RunFolder, config: ExperimentConfig, *, overwrite: bool, resume: bool, log) -> None:
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
