"""Scale: Fashion-MNIST's 60,000 training images as PNG folders, ``keras-tl train`` at 224 px with its defaults.

Only the data, the base, the input size and one epoch per phase are set; everything else (data.cache: auto, the
split, cached phase 1, the scan's workers) is keras_tl's default. The train command runs in a child process,
whose resident memory is sampled every half second (its peak from the kernel, ru_maxrss, is reported too) and
whose log lines are timestamped: the scan's throughput and each stage's wall time come from them.

    python -m benchmarks.scale_60k [--workdir runs/benchmarks/scale] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.common import RESULTS_DIR, machine, machine_line, write_results
from benchmarks.fashion_mnist import write_class_folders

NAME = "scale_60k"
# Each stage runs from the first log line starting with its first prefix to the first one after it starting with
# its second (None: the next line; "": the end of the run).
STAGES = (("scan", "scanning ", None), ("phase 1 features", "phase 1: computing base features", "phase 1: training"),
          ("phase 1 head", "phase 1: training", "phase 1: finished"), ("phase 2", "phase 2: training",
                                                                      "phase 2: finished"),
          ("evaluate and report", "phase 2: finished", ""))


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_logged(command: list[str], log_file: Path) -> dict:
    """Run ``command``; timestamped log lines (tqdm's carriage-return updates kept as lines) and RSS samples."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    lines: list[tuple[float, str]] = []

    def read() -> None:
        with log_file.open("w", encoding="utf-8") as out:
            for raw in iter(lambda: child.stdout.readline(), b""):
                for part in re.split(r"[\r\n]+", raw.decode("utf-8", "replace")):
                    if part.strip():
                        lines.append((time.perf_counter() - started, part.strip()))
                        out.write(f"{lines[-1][0]:8.1f}  {part.strip()}\n")
                        out.flush()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    samples = []
    while child.poll() is None:
        samples.append((time.perf_counter() - started, rss_bytes(child.pid)))
        time.sleep(0.5)
    reader.join()
    return {"returncode": child.returncode, "seconds": time.perf_counter() - started, "lines": lines,
            "rss_samples": samples,
            "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}


def stage_times(lines: list[tuple[float, str]], total: float) -> dict:
    out = {}
    for name, first, last in STAGES:
        start = next((i for i, (_, text) in enumerate(lines) if text.startswith(first)), None)
        if start is None:
            continue
        if last == "":
            end = total
        else:
            end = next((t for t, text in lines[start + 1:] if last is None or text.startswith(last)), total)
        out[name] = round(end - lines[start][0], 1)
    return out


def relative(text: str, workdir: Path, given: Path) -> str:
    """Log lines name the work folder as the command line gave it, not as an absolute path of this machine."""
    return text.replace(str(workdir), str(given))


def markdown(payload: dict) -> str:
    gib = 2**30
    stages = payload["stage_seconds"]
    lines = [
        "# Scale: 60,000 images at 224 px with the defaults",
        "",
        f"`python -m benchmarks.scale_60k`: `keras-tl train` on Fashion-MNIST's {payload['images']:,} training "
        f"images (28x28 PNGs in one folder per class), {payload['backbone']} with its ImageNet weights at "
        f"{payload['image_size']} px, {payload['epochs']} epoch per phase, every other setting keras_tl's default. "
        f"Numbers from [{NAME}.json]({NAME}.json); the timestamped log of the run is summarised there.",
        "",
        machine_line(payload["machine_before"], payload["machine_after"]),
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| peak resident memory of the train process (ru_maxrss) | {payload['ru_maxrss_bytes'] / gib:.2f} GiB | "
        "<= 4 GB |",
        f"| peak of the half-second RSS samples | {payload['peak_rss_sampled_bytes'] / gib:.2f} GiB | |",
        f"| exit status | {payload['returncode']} | 0 (no OOM) |",
        f"| scan | {payload['scan_images_per_second']:.0f} images/s ({stages.get('scan', 0):.0f} s) | reported |",
        f"| test accuracy ({payload['test_images']:,} images) | {payload['test_accuracy']:.4f} | |",
        f"| wall time, all stages | {payload['seconds']:.0f} s | |",
        "",
        f"What data.cache: auto said: {payload['cache_line'] or '(no cache line in the log)'}",
        "",
        "| stage | wall seconds |",
        "|---|---|",
    ]
    lines += [f"| {name} | {seconds:.0f} |" for name, seconds in stages.items()]
    lines += ["", "Resident memory over the run (GiB, sampled): " + ", ".join(
        f"{t:.0f} s {rss / gib:.2f}" for t, rss in payload["rss_timeline"]), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("runs/benchmarks/scale"))
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    source = write_class_folders(workdir / "fashion-mnist-60k")
    images = sum(1 for _ in source.glob("*/*.png"))
    config = workdir / "scale.yaml"
    config.write_text(json.dumps({
        "name": "scale-60k", "output_dir": str(workdir / "runs"), "data": {"source": str(source)},
        "model": {"backbone": args.backbone, "input_size": args.image_size},
        "train": {"phase1": {"epochs": args.epochs}, "phase2": {"epochs": args.epochs}}}), encoding="utf-8")
    before = machine()
    outcome = run_logged([sys.executable, "-m", "keras_tl", "train", str(config), "--overwrite"],
                         workdir / "train.log")
    outcome["lines"] = [(t, relative(text, workdir, args.workdir)) for t, text in outcome["lines"]]
    stages = stage_times(outcome["lines"], outcome["seconds"])
    metrics_file = workdir / "runs" / "scale-60k" / "metrics.json"
    test = json.loads(metrics_file.read_text(encoding="utf-8"))["test"] if metrics_file.is_file() else {}
    samples = outcome["rss_samples"]
    step = max(1, len(samples) // 40)
    payload = {
        "benchmark": NAME, "images": images, "backbone": args.backbone, "image_size": args.image_size,
        "epochs": args.epochs, "returncode": outcome["returncode"], "seconds": round(outcome["seconds"], 1),
        "ru_maxrss_bytes": outcome["ru_maxrss_bytes"], "peak_rss_sampled_bytes": max(r for _, r in samples),
        "stage_seconds": stages, "scan_images_per_second": images / stages["scan"] if stages.get("scan") else 0.0,
        "test_accuracy": test.get("accuracy", float("nan")), "test_images": test.get("samples", 0),
        "cache_line": next((text for _, text in outcome["lines"] if "data.cache: auto" in text), ""),
        "rss_timeline": [(round(t), r) for t, r in samples[::step]],
        "log_tail": [text for _, text in outcome["lines"][-40:]],
        "machine_before": before, "machine_after": machine(),
    }
    write_results(NAME, payload, [{"stage": k, "seconds": v} for k, v in stages.items()])
    (RESULTS_DIR / f"{NAME}.md").write_text(markdown(payload), encoding="utf-8")
    print(markdown(payload))
    if outcome["returncode"]:
        sys.exit(f"keras-tl train exited {outcome['returncode']}; see {workdir / 'train.log'}")


if __name__ == "__main__":
    main()
