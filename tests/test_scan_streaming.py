"""The scan streams: bounded memory on many large images, a bounded queue ahead of the report, a known total."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageDraw

from keras_tl.data import list_source, scan
from keras_tl.data.scan import in_order
from tests.support.memory import scan_in_fresh_process

LARGE = 16
SIDE = 2000


def test_scan_memory_stays_bounded_on_many_large_images(tmp_path, bad_input):
    """16 RGBA 2000x2000 PNGs (each converted: about 80 MB of pixels while it is) with 8 workers and a budget of
    one image's pixels. Measured: 93 MB; one worker 77 MB; without the budget, or without handing freed memory back
    (each worker's heap keeps the largest image it decoded), 540-940 MB."""
    folder = tmp_path / "large" / "big"
    folder.mkdir(parents=True)
    image = Image.new("RGBA", (SIDE, SIDE), (90, 120, 200, 255))
    ImageDraw.Draw(image).ellipse((SIDE // 4, SIDE // 4, SIDE * 3 // 4, SIDE * 3 // 4), fill=(200, 40, 40, 128))
    for i in range(LARGE):
        image.putpixel((i, 0), (i, i, i, 255))  # distinct files: no duplicates
        image.save(folder / f"big{i:02d}.png", compress_level=1)
    del image
    converted, quarantined, grown_mb = scan_in_fresh_process(tmp_path / "large", tmp_path / "conv", workers=8,
                                                             decode_pixels=SIDE * SIDE)
    assert (converted, quarantined) == (LARGE, 0)
    assert grown_mb < 250, grown_mb
    bad_input(f"{LARGE} {SIDE}x{SIDE} RGBA PNGs scanned by 8 workers", f"peak memory grew {grown_mb} MB (< 250)")


def test_scan_keeps_a_bounded_number_of_files_ahead_of_its_report():
    started, ahead, lock = [], 6, threading.Lock()

    def work(item):
        with lock:
            started.append(item)
        return item * 2

    with ThreadPoolExecutor(max_workers=4) as pool:
        for position, result in enumerate(in_order(pool, work, range(500), ahead=ahead)):
            assert result == position * 2  # in order
            with lock:
                assert max(started) <= position + ahead  # never more than `ahead` files queued past the report
    assert sorted(started) == list(range(500))


def test_scan_progress_gets_the_total_and_the_report_keeps_the_listing_order(image_folder):
    listing = list_source(image_folder)
    totals = []

    def progress(results):
        totals.append(len(results))  # what tqdm reads for its total, hence its ETA
        return results

    report = scan(listing, workers=3, progress=progress)
    assert totals == [len(listing.samples)] == [len(report.usable)]
    assert [u["path"] for u in report.usable] == [s.path for s in listing.samples]
    assert report.usable == scan(listing, workers=1).usable
