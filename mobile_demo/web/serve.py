"""python -m mobile_demo.web.serve MODEL.tflite|RUN_DIR [--host H] [--port P]

Serves the phone page with the chosen model (under /models/; the page opens with it and with its input size).
The first start vendors the browser runtime from npm (``npm ci`` then ``npm run build``); after that the page
needs no network, so a phone on the same Wi-Fi can use it (``--host 0.0.0.0``). Browsers allow the live camera
only on https:// or localhost pages; the photo picker works everywhere.
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import quote

WEB_DIR = Path(__file__).resolve().parent
VENDOR = WEB_DIR / "vendor" / "vision_bundle.mjs"
DEFAULT_ARTIFACT = "model_int8.tflite"
MODEL_ROUTE = "/models/"


def ensure_built(log=print) -> None:
    """Vendors the runtime into vendor/ unless it is there already (needs node and npm, once)."""
    if VENDOR.is_file():
        return
    log("vendoring the browser runtime from npm (once): npm ci && npm run build")
    for command in (["npm", "ci", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
        try:
            subprocess.run(command, cwd=WEB_DIR, check=True)
        except FileNotFoundError:
            sys.exit("error: node and npm are needed once to vendor the page's runtime")
        except subprocess.CalledProcessError as err:
            sys.exit(f"error: {' '.join(command)} failed (exit {err.returncode})")


def choose_model(target: Path) -> Path:
    """A .tflite file as given; for a run folder (or its export folder) the full-int8 artifact."""
    if target.is_file():
        if target.suffix != ".tflite":
            sys.exit(f"error: {target.name} is not a .tflite file (the page runs TFLite models)")
        return target
    for candidate in (target / "export" / DEFAULT_ARTIFACT, target / DEFAULT_ARTIFACT):
        if candidate.is_file():
            return candidate
    sys.exit(f"error: no {DEFAULT_ARTIFACT} in {target} (run `keras-tl export` first, or name a .tflite file)")


def image_input_size(model: Path) -> int:
    """The model's square input size, which the page resizes pictures to (read by the edge runner's loader)."""
    from mobile_demo.edge import EdgeError, open_model

    try:
        return open_model(model).image_size
    except EdgeError as err:
        sys.exit(f"error: {err}")


class PageHandler(SimpleHTTPRequestHandler):
    # Module scripts and streamed WASM compile only with these types, which older Pythons do not map.
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm"}

    def __init__(self, *args, model: Path, input_size: int, **kwargs):
        self.model = model
        self.input_size = input_size
        super().__init__(*args, directory=str(WEB_DIR), **kwargs)

    def do_GET(self) -> None:
        if self.path in ("/", "/index.html"):  # the page reads its model from ?model=, which names the file
            self.send_response(302)
            self.send_header("Location", f"/?model={MODEL_ROUTE.strip('/')}/{quote(self.model.name)}"
                                         f"&size={self.input_size}")
            self.end_headers()
            return
        super().do_GET()

    def translate_path(self, path: str) -> str:
        if path.split("?", 1)[0] == f"{MODEL_ROUTE}{quote(self.model.name)}":
            return str(self.model)
        return super().translate_path(path)

    def log_message(self, format: str, *args) -> None:  # one quiet line per request, on stderr
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mobile_demo.web.serve", description=(
        "Serve the phone page with an exported .tflite model."))
    parser.add_argument("target", type=Path, help="a .tflite file, or a run folder exported with keras-tl export")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to reach it from a phone on the network")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args(argv)
    model = choose_model(args.target)
    input_size = image_input_size(model)
    ensure_built()
    handler = functools.partial(PageHandler, model=model.resolve(), input_size=input_size)
    server = ThreadingHTTPServer((args.host, args.port), handler)
    host, port = server.server_address[:2]
    print(f"serving http://{host}:{port}/ with {model}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
