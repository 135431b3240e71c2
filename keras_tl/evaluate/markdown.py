"""Small Markdown writers for the report: user text (class names, paths) is escaped so that it never turns into
markup -- or into HTML, since report.html is rendered from the same Markdown."""

from __future__ import annotations

import re
from typing import Sequence

# Underscores inside words (block_13, macro_f1) are not emphasis in Markdown, so they stay readable unescaped.
_SPECIAL = re.compile(r"([\\`*\[\]|~]|(?<!\w)_|_(?!\w))")


def text(value) -> str:
    escaped = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", escaped).replace("\n", " ")


def code(value) -> str:
    value = str(value).replace("\n", " ")
    fence = "``" if "`" in value else "`"
    return f"{fence} {value} {fence}" if fence == "``" else f"`{value}`"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, escape: bool = True) -> list[str]:
    """A pipe table; cells are escaped unless they are already Markdown (``escape=False``)."""
    cell = text if escape else (lambda v: str(v).replace("|", "\\|"))
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines
