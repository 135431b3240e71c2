"""Image-only vs text-only vs image+text on easy-VQA (question + image -> one of 13 answers), same budget for all.

All three runs use configs/multimodal_vqa.yaml with only ``model.modality`` changed: the same manifest and splits,
the same image base (pretrained offline on the training images' shapes and colours, see keras_tl.quickstart.vqa),
the same MiniLM-L6 checkpoint, head, batch size, epochs and learning rates. Offline; run from the repository root:

    python benchmarks/multimodal_easyvqa.py [--work runs/easy-vqa-bench] [--questions-per-image 4] [-o key=value]

Writes benchmarks/results/multimodal_easyvqa.json and .md and prints the table. Test accuracy is reported
overall and per question type (yes/no, shape, colour), read off the per-answer recalls of each run's metrics.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import keras_tl
from keras_tl.config import load_config
from keras_tl.quickstart.dataset import COLORS, SHAPES
from keras_tl.quickstart.vqa import prepare_easy_vqa

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "multimodal_vqa.yaml"
RESULTS = ROOT / "benchmarks" / "results"
MODALITIES = ("image", "text", "image_text")
QUESTION_TYPES = {"yes/no": ("yes", "no"), "shape": SHAPES, "colour": COLORS}


def accuracy_by_question_type(metrics: dict) -> dict[str, float]:
    """A question's type follows from its answer: recall over a type's answers is the accuracy on that type."""
    out = {}
    for kind, answers in QUESTION_TYPES.items():
        rows = [metrics["per_class"][a] for a in answers if a in metrics["per_class"]]
        support = sum(r["support"] for r in rows)
        out[kind] = sum(r["recall"] * r["support"] for r in rows) / support if support else float("nan")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/easy-vqa-bench", help="data, image base and runs go here")
    parser.add_argument("--questions-per-image", type=int, default=4, help="training questions kept per image")
    parser.add_argument("-o", "--override", action="append", default=[], help="config override for all three runs")
    args = parser.parse_args()
    work = Path(args.work)
    started = time.time()
    manifest, base = prepare_easy_vqa(work, questions_per_image=args.questions_per_image)
    prepare_seconds = time.time() - started
    results = []
    for modality in MODALITIES:
        config = load_config(CONFIG, [f"data.source={manifest}", f"model.weights={base}", f"model.modality={modality}",
                                      f"name=easyvqa_{modality}", f"output_dir={work / 'runs'}", *args.override])
        started = time.time()
        run = keras_tl.train_model(config, overwrite=True)
        seconds = time.time() - started
        test = json.loads(run.metrics_file.read_text(encoding="utf-8"))["test"]
        results.append({"modality": modality, "test_accuracy": test["accuracy"], "test_macro_f1": test["macro_f1"],
                        "test_samples": test["samples"], "by_question_type": accuracy_by_question_type(test),
                        "train_and_evaluate_seconds": round(seconds, 1), "run": run.path.name})
    table = format_table(results)
    print(table)
    config = load_config(CONFIG, args.override)
    summary = {
        "benchmark": "easy-VQA: image-only vs text-only vs image+text, same budget",
        "config": "configs/multimodal_vqa.yaml", "overrides": args.override,
        "questions_per_training_image": args.questions_per_image,
        "epochs": {"phase1": config.train.phase1.epochs, "phase2": config.train.phase2.epochs},
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
                   "shared 2-core CPU (timings are indicative only)",
        "prepare_seconds": round(prepare_seconds, 1),
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "multimodal_easyvqa.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "multimodal_easyvqa.md").write_text(table + "\n", encoding="utf-8")


def format_table(results: list[dict]) -> str:
    lines = ["| model | test accuracy | macro F1 | yes/no | shape | colour | train+eval s |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        kinds = r["by_question_type"]
        lines.append(f"| {r['modality']} | {r['test_accuracy']:.4f} | {r['test_macro_f1']:.4f} | "
                     f"{kinds['yes/no']:.4f} | {kinds['shape']:.4f} | {kinds['colour']:.4f} | "
                     f"{r['train_and_evaluate_seconds']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
