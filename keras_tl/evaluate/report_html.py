"""report.html: the Markdown report rendered by Python-Markdown, with every image embedded as a data: URI so the
single file can be mailed, attached to a ticket or opened offline."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import markdown

from keras_tl.run import atomic_write_text

_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #1b1b1b; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #eee; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: left; }
th { background: #f3f5f7; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
code { background: #f3f3f3; padding: .1em .3em; border-radius: 3px; }
"""


def write_html(markdown_text: str, base_dir: Path, path: Path, *, title: str) -> Path:
    body = markdown.markdown(markdown_text, extensions=["tables"], output_format="html")
    body = _IMG_SRC.sub(lambda m: m.group(1) + _data_uri(base_dir, m.group(2)) + m.group(3), body)
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}'
            f"</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
    atomic_write_text(path, page)
    return path


def _data_uri(base_dir: Path, src: str) -> str:
    """The image inlined; a source outside the run folder, or missing, is left as written (and shows as broken)."""
    file = (base_dir / html.unescape(src)).resolve()
    if file.suffix.lower() != ".png" or not file.is_file() or not file.is_relative_to(base_dir.resolve()):
        return src
    return "data:image/png;base64," + base64.b64encode(file.read_bytes()).decode("ascii")
