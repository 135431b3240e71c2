"""Memory that scales: the image cache's bytes per image (float32 before, uint8 now), what data.cache: auto picks
for 60,000 images at 224 px on this machine, and the scan's throughput and peak memory on a folder of PNGs.

- bytes per image: 256 photos at 224 px cached on disk by tf.data, the old way (float32 pixels) and keras_tl's
  make_dataset now (uint8), measured from the cache files; and, each in a fresh process, the growth of its
  resident memory while the same images fill an in-memory cache;
- auto: keras_tl's own choice (``choose_cache``) for 60,000 training + validation images at 224 px with this
  machine's available RAM and free disk under runs/;
- scan: ``--pngs`` generated PNGs (``--side`` px, shapes on noise) scanned by keras_tl's scan with its default
  8 workers, in a fresh process: images/s and its peak resident memory during the scan (sampled every 5 ms)
  above what it held before.

    python -m benchmarks.cache_memory [--pngs 3000] [--side 256]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import RESULTS_DIR, machine, machine_line, print_table  # noqa: E402
from benchmarks.input_pipeline import photo_folder  # noqa: E402
from keras_tl.data import list_source, make_dataset  # noqa: E402
from keras_tl.data.image_cache import (DISK_SHARE, MEMORY_SHARE, available_memory,  # noqa: E402
                                       choose_cache, free_disk, image_bytes)
from keras_tl.data.pipeline import SHUFFLE_BUFFER  # noqa: E402

SIZE, CACHED = 224, 256


# Resident memory of this process, and its peak while a block runs (sampled): ru_maxrss would report the peak of
# importing TensorFlow, which is higher than what a scan of small images takes.
RSS_SAMPLER = """
import os, threading, time
from pathlib import Path
def rss():
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
class Peak:
    def __enter__(self):
        self.before, self.peak, self._run = rss(), rss(), True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self
    def _sample(self):
        while self._run:
            self.peak = max(self.peak, rss())
            time.sleep(0.005)
    def __exit__(self, *exc):
        self._run = False
        self._thread.join()
        self.peak, self.after = max(self.peak, rss()), rss()
"""


def in_fresh_process(body: str) -> dict:
    script = RSS_SAMPLER + textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def old_images(paths: list[str]) -> tf.data.Dataset:
    def decode(path):  # the float32 decode keras_tl cached before
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        return tf.clip_by_value(tf.image.resize(image, (SIZE, SIZE), method="bilinear", antialias=True), 0.0, 255.0)

    return tf.data.Dataset.from_tensor_slices(paths).map(decode)


def cache_bytes(paths: list[str], work: Path) -> list[dict]:
    rows = []
    targets = np.zeros(len(paths), dtype="int32")
    for version in ("old: float32", "new: uint8"):
        prefix = work / ("float32" if version.startswith("old") else "uint8") / "train"
        prefix.parent.mkdir(parents=True, exist_ok=True)
        for stale in prefix.parent.glob("train*"):
            stale.unlink()
        if version.startswith("old"):
            disk = old_images(paths).cache(str(prefix))
        else:
            disk = make_dataset(paths, targets, image_size=SIZE, batch_size=16, training=False, seed=0, cache="disk",
                                cache_file=prefix)
        for _ in disk:
            pass
        on_disk = sum(f.stat().st_size for f in prefix.parent.glob("train*.data-*"))
        memory = in_fresh_process(f"""
            import json
            import numpy as np
            from benchmarks.cache_memory import old_images
            from keras_tl.data import make_dataset
            paths = {paths!r}
            if {version.startswith("old")!r}:
                images = old_images(paths).cache()
            else:
                images = make_dataset(paths, np.zeros(len(paths), "int32"), image_size={SIZE}, batch_size=1,
                                      training=False, seed=0, cache="memory")  # batches of 1: little else held
            for _ in images:  # a first pass: the pipeline's own buffers
                break
            with Peak() as held:
                for _ in images:  # fills the cache, which lives as long as ``images``
                    pass
            print(json.dumps({{"grown": held.after - held.before}}))
        """)
        rows.append({"cache": version, "bytes_per_image_disk": round(on_disk / len(paths)),
                     "bytes_per_image_memory_rss": round(memory["grown"] / len(paths)),
                     "bytes_per_image_pixels": image_bytes(SIZE) * (4 if version.startswith("old") else 1)})
    return rows


def auto_choice(work: Path) -> dict:
    images = 60_000
    choice = choose_cache("auto", cached_images=images, shuffle_images=SHUFFLE_BUFFER, image_size=SIZE, folder=work)
    return {"images": images, "image_size": SIZE, "mode": choice.mode, "reason": choice.reason,
            "available_ram_gib": round(available_memory() / 2**30, 1), "memory_share": MEMORY_SHARE,
            "free_disk_gib": round(free_disk(work) / 2**30, 1), "disk_share": DISK_SHARE,
            "uint8_gib": round(images * image_bytes(SIZE) / 2**30, 1),
            "float32_gib": round(images * image_bytes(SIZE) * 4 / 2**30, 1)}


def png_folder(dest: Path, count: int, side: int) -> Path:
    from PIL import Image, ImageDraw

    if dest.is_dir() and len(list(dest.glob("*/*.png"))) == count:
        return dest
    rng = random.Random(0)
    for i in range(count):
        folder = dest / f"class{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        noise = np.random.default_rng(i).integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
        image = Image.fromarray(noise).resize((side, side), Image.BILINEAR)
        r = rng.randint(side // 8, side // 3)
        cx, cy = rng.randint(r, side - r), rng.randint(r, side - r)
        ImageDraw.Draw(image).ellipse((cx - r, cy - r, cx + r, cy + r), fill=(rng.randint(0, 255), 60, 120))
        image.save(folder / f"img{i:05d}.png")
    return dest


def scan_run(folder: Path, convert: Path) -> dict:
    return in_fresh_process(f"""
        import json, time
        from pathlib import Path
        from keras_tl.data.scan import scan
        from keras_tl.data.sources import list_source
        listing = list_source({str(folder)!r})
        with Peak() as held:
            wall, cpu = time.perf_counter(), time.process_time()
            report = scan(listing, Path({str(convert)!r}))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(json.dumps({{"images": len(report.usable), "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                          "images_per_second": round(len(report.usable) / wall, 1),
                          "peak_rss_growth_mib": round((held.peak - held.before) / 2**20, 1),
                          "rss_before_mib": round(held.before / 2**20, 1)}}))
    """)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pngs", type=int, default=3000)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--workdir", type=Path, default=Path("runs/benchmarks/cache_memory"))
    args = parser.parse_args()
    before = machine()
    photos = photo_folder(args.workdir / "photos")
    paths = [str(photos / s.path) for s in list_source(photos).samples][:CACHED]
    rows = cache_bytes(paths, args.workdir / "tfcache")
    auto = auto_choice(args.workdir)
    scanned = {"pngs": args.pngs, "side": args.side,
               **scan_run(png_folder(args.workdir / "pngs", args.pngs, args.side), args.workdir / "converted")}
    payload = {"benchmark": "cache_memory", "command": "python -m benchmarks.cache_memory", "image_size": SIZE,
               "cached_images": len(paths), "cache_rows": rows, "auto_60000": auto, "scan": scanned,
               "machine_before": before, "machine_after": machine()}
    print_table(rows, ["cache", "bytes_per_image_disk", "bytes_per_image_memory_rss", "bytes_per_image_pixels"])
    print(auto["reason"])
    print(scanned)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "cache_memory.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (RESULTS_DIR / "cache_memory.md").write_text(markdown(payload), encoding="utf-8")


def markdown(payload: dict) -> str:
    m, auto, scanned = payload["machine_before"], payload["auto_60000"], payload["scan"]
    lines = [
        "# Image cache memory, data.cache: auto, and the scan",
        "",
        f"`{payload['command']}`. Numbers from [cache_memory.json](cache_memory.json). "
        + machine_line(m, payload["machine_after"]),
        "",
        f"## Bytes per cached image at {payload['image_size']} px",
        "",
        f"{payload['cached_images']} photos cached by tf.data: on disk (cache file size) and in memory (growth of "
        "a fresh process's resident memory while the cache fills).",
        "",
        "| cache | bytes per image on disk | bytes per image in memory (RSS) | pixel bytes |",
        "|---|---|---|---|",
    ]
    for row in payload["cache_rows"]:
        lines.append(f"| {row['cache']} | {row['bytes_per_image_disk']:,} | {row['bytes_per_image_memory_rss']:,} | "
                     f"{row['bytes_per_image_pixels']:,} |")
    lines += [
        "",
        f"## data.cache: auto for {auto['images']:,} images at {auto['image_size']} px on this machine",
        "",
        f"{auto['uint8_gib']} GiB as uint8 ({auto['float32_gib']} GiB as float32 before); this machine had "
        f"{auto['available_ram_gib']} GiB of RAM available (budget: {auto['memory_share']:.0%} of it) and "
        f"{auto['free_disk_gib']} GiB free under runs/ (budget: {auto['disk_share']:.0%}). auto picked "
        f"**{auto['mode']}**:",
        "",
        f"> {auto['reason']}",
        "",
        "## The scan",
        "",
        f"{scanned['images']:,} PNGs of {scanned['side']}x{scanned['side']} px, keras_tl's scan with its default 8 "
        f"workers in a fresh process: {scanned['images_per_second']} images/s ({scanned['seconds']} s wall, "
        f"{scanned['cpu_seconds']} s CPU); its resident memory peaked {scanned['peak_rss_growth_mib']} MiB "
        f"above the {scanned['rss_before_mib']} MiB it held before (TensorFlow included).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
