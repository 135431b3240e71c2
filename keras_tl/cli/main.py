"""``keras-tl``: a thin command line over keras_tl's public API (and the export package).

Every failure the user can fix is one line on stderr and exit status 2; tracebacks are for bugs, behind --debug.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from keras_tl.cli import commands

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-tl", description="Transfer learning for image classifiers that ship to phones and edge boards.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a model from a YAML config (rerun to resume)")
    p.add_argument("config", help="experiment config (YAML)")
    _overrides(p)
    p.add_argument("--resume", action="store_true", help="continue an existing run even if settings changed")
    p.add_argument("--overwrite", action="store_true", help="delete an existing run of the same name first")
    p.set_defaults(func=commands.train)

    p = sub.add_parser("evaluate", help="metrics of a run's model on one of its splits")
    p.add_argument("run_dir")
    p.add_argument("--split", choices=("train", "val", "test"), default=None)
    p.add_argument("--slice-by", metavar="COLUMN", help="also per value of this manifest column (e.g. region)")
    p.set_defaults(func=commands.evaluate)

    p = sub.add_parser("features", help="pooled base features and labels of a run's split, as an .npz file")
    p.add_argument("run_dir")
    p.add_argument("--split", choices=("train", "val", "test"), default="train")
    p.add_argument("-o", "--output", help="the .npz file to write (default: RUN/features/SPLIT.npz)")
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.set_defaults(func=commands.features)

    p = sub.add_parser("export", help="TFLite / ONNX artifacts of a run, verified against the Keras model")
    p.add_argument("run_dir")
    p.add_argument("--formats", help="comma list: tflite,onnx")
    p.add_argument("--quantize", help="comma list: fp32,fp16,dynamic,int8")
    p.add_argument("--prune", type=float, help="target sparsity of prunable layers, e.g. 0.5")
    p.add_argument("--qat", action="store_true", help="quantization-aware training, then int8 TFLite")
    p.add_argument("--keep-failed", action="store_true", help="keep artifacts that fail verification (.failed)")
    _overrides(p)
    p.set_defaults(func=commands.export)

    p = sub.add_parser("predict", help="top-k labels for images (.keras, .tflite, .onnx or a run folder)")
    p.add_argument("model", help="a run folder or a .keras / .tflite / .onnx file")
    p.add_argument("inputs", nargs="*", help="image files or folders (none for a text-only model)")
    p.add_argument("--text", help="text input for image+text and text-only models")
    p.add_argument("--top-k", type=int, default=3)
    p.set_defaults(func=commands.predict)

    p = sub.add_parser("benchmark", help="size, accuracy, agreement and latency of a run's model and artifacts")
    p.add_argument("run_dir")
    _overrides(p)
    p.set_defaults(func=commands.benchmark)

    p = sub.add_parser("compare", help="settings, metrics and export figures of runs side by side")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.set_defaults(func=commands.compare)

    p = sub.add_parser("report", help="rewrite a run's report.md and report.html (e.g. after an export)")
    p.add_argument("run_dir")
    p.set_defaults(func=commands.report)

    p = sub.add_parser("data", help="data tools")
    data_sub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    c = data_sub.add_parser("check", help="scan an image folder or manifest and report problems (writes nothing)")
    c.add_argument("source", help="image folder (one sub-folder per class) or .csv/.jsonl manifest")
    _overrides(c)
    c.set_defaults(func=commands.data_check)
    c = data_sub.add_parser("easy-vqa", help="easy-VQA as an image+text manifest, and the offline image base that "
                                             "configs/multimodal_vqa.yaml uses")
    c.add_argument("dest", nargs="?", default="runs/easy-vqa")
    c.add_argument("--questions-per-image", type=int, help="keep at most this many questions per image")
    c.add_argument("--pretrain-epochs", type=int, default=8)
    _overrides(c)
    c.set_defaults(func=commands.data_easy_vqa)

    p = sub.add_parser("text", help="text tower tools")
    text_sub = p.add_subparsers(dest="text_command", metavar="TEXT_COMMAND", required=True)
    c = text_sub.add_parser("fetch", help="download a named BERT checkpoint into the cache; prints its folder")
    c.add_argument("name", nargs="?", default="minilm-l6")
    c.set_defaults(func=commands.text_fetch)

    p = sub.add_parser("quickstart", help="offline end-to-end demo: data, pretrained base, both phases, evaluation")
    p.add_argument("--output-dir", default="runs")
    _overrides(p)
    p.set_defaults(func=commands.quickstart)
    return parser


def _overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. -o train.phase1.epochs=3 (repeatable)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command as typed, which the run's report shows
    from keras_tl.quiet import import_tensorflow_quietly
    from keras_tl.errors import KerasTLError, WriteFailed

    import_tensorflow_quietly(enabled=not args.debug)
    if not args.debug:
        # Native libraries (h5py on a failed write) print clean-up errors as tracebacks through these hooks;
        # every exception of the command itself is caught below and reported in one line.
        sys.unraisablehook = lambda unraisable: None
        sys.excepthook = lambda *exc_info: None
    try:
        return args.func(args) or 0
    except WriteFailed as err:
        print(_error_line(str(err)), file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # HDF5 handles left by the failed write crash the interpreter's final clean-up; nothing is left to save.
        os._exit(EXIT_USER_ERROR)
    except KerasTLError as err:
        print(_error_line(str(err)), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - a bug: one line by default, the traceback with --debug
        if args.debug:
            raise
        detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(_error_line(f"unexpected {type(err).__name__}: {detail}", "(rerun with --debug for the traceback)"),
              file=sys.stderr)
        return 1


MAX_ERROR_LINE = 500


def _error_line(message: str, suffix: str = "") -> str:
    """``error: message suffix`` on one line of at most MAX_ERROR_LINE characters: an error may quote the user's
    input (a value, a path, a library's message), which can be any size."""
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    room = MAX_ERROR_LINE - len("error: ") - (len(suffix) + 1 if suffix else 0)
    if len(text) > room:
        text = text[: room - 3].rstrip() + "..."
    return f"error: {text} {suffix}" if suffix else f"error: {text}"


if __name__ == "__main__":
    sys.exit(main())
