"""python -m mobile_demo.edge MODEL [IMAGE|FOLDER ...] [--camera N | --video FILE] [--text "..."]

A text-only model takes ``--text`` alone.

Prints the top-k labels and the runtime's latency for each image or frame; the latency summary goes to stderr,
so stdout stays one line (or one JSON object, --json) per input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Iterator, Optional, Sequence

import numpy as np

from .errors import EdgeError
from .images import image_files, load_image, resize, video_frames
from .model import EdgeModel, open_model
from .text import TextEncoder


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mobile_demo.edge", description=(
        "Classify images with an exported keras_tl model (.tflite with LiteRT, .onnx with ONNX Runtime); "
        "labels and input normalization come from the model file."))
    parser.add_argument("model", help="a .tflite or .onnx file")
    parser.add_argument("inputs", nargs="*", help="image files and/or folders (searched recursively)")
    stream = parser.add_mutually_exclusive_group()
    stream.add_argument("--camera", type=int, metavar="INDEX", help="classify frames of this camera (OpenCV)")
    stream.add_argument("--video", metavar="FILE", help="classify frames of this video file (OpenCV)")
    parser.add_argument("--every", type=int, default=1, metavar="N", help="with --camera/--video: every N-th frame")
    parser.add_argument("--frames", type=int, default=0, metavar="N",
                        help="with --camera/--video: stop after N classified frames (0: until the stream ends)")
    parser.add_argument("--text", help="the text input of an image+text model")
    parser.add_argument("--tokenizer", metavar="FILE", help="tokenizer.json (default: the one beside the model)")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--threads", type=int, help="runtime threads (default: the runtime's choice)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    args = parser.parse_args(argv)
    streams = args.camera is not None or args.video is not None
    if (args.inputs and streams) or not (args.inputs or streams or args.text is not None):
        parser.error("name image files/folders, or one of --camera/--video (a text-only model: --text alone)")
    if args.every < 1 or args.frames < 0 or args.top_k < 1:
        parser.error("--every and --top-k must be at least 1, --frames at least 0")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    latencies: list[float] = []
    try:
        model = open_model(args.model, args.threads)
        tokens = _tokens(model, args)
        samples = _samples(args, model)
        blank = None if model.image_size is None else np.zeros((model.image_size,) * 2 + (3,), np.float32)
        model.predict(blank, tokens)  # warm-up: not timed
        for name, pixels in samples:
            probs, ms = model.predict(pixels, tokens)
            latencies.append(ms)
            _print(name, top_k(probs, model.labels, args.top_k), ms, args.json)
    except EdgeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # stopping a camera stream is the normal way out
        pass
    if latencies:
        print(f"{len(latencies)} inputs, {model.runtime}, latency ms: median {np.median(latencies):.2f}, "
              f"p90 {np.percentile(latencies, 90):.2f}", file=sys.stderr)
    return 0


def _tokens(model: EdgeModel, args) -> Optional[dict]:
    if not model.takes_text:
        if args.text is not None:
            raise EdgeError(f"{model.path.name} takes no text; leave out --text")
        return None
    if args.text is None:
        raise EdgeError(f"{model.path.name} also takes a text ({', '.join(model.text_inputs)}): pass --text \"...\"")
    return TextEncoder.beside(model.path, args.tokenizer).encode(args.text)


def _samples(args, model: EdgeModel) -> Iterator[tuple[str, Optional[np.ndarray]]]:
    """(name, pixels) of each input to classify; a text-only model classifies its one text (pixels None)."""
    images = bool(args.inputs) or args.camera is not None or args.video is not None
    if model.image_size is None:
        if images:
            raise EdgeError(f"{model.path.name} takes only a text: pass --text and no images")
        return iter([(f"text: {args.text}", None)])
    if not images:
        raise EdgeError(f"{model.path.name} takes an image: name image files/folders, or --camera/--video")
    return _inputs(args, model.image_size)


def _inputs(args, size: int) -> Iterator[tuple[str, np.ndarray]]:
    if args.inputs:
        for path in image_files(args.inputs):
            yield str(path), load_image(path, size)
        return
    source = args.camera if args.camera is not None else args.video
    for number, frame in video_frames(source, args.every, args.frames):
        yield f"frame {number}", resize(frame, size)


def top_k(probs: np.ndarray, labels: Sequence[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs, kind="stable")[:min(k, len(labels))]
    return [(labels[i], float(probs[i])) for i in order]


def _print(name: str, top: list[tuple[str, float]], ms: float, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"input": name, "top": top, "latency_ms": round(ms, 3)}), flush=True)
    else:
        scores = ", ".join(f"{label} {score:.3f}" for label, score in top)
        print(f"{name}: {scores}  ({ms:.2f} ms)", flush=True)
