"""Where a split's decoded, resized images are cached on disk (``data.cache: disk``).

Without ``data.cache_dir`` the cache lives in the run folder. With it, the cache file is named after what it
holds -- the decode size and every image's path, size and modification time, in split order -- so runs over the
same images share one cache, and an edited, added or removed image gives a new name instead of stale pixels.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional, Sequence

# Bump when load_image changes how pixels come out (resize method, antialiasing, clipping).
DECODE_VERSION = 1


def image_cache_file(split: str, decode_paths: Sequence[str], image_size: int, *, run_cache_dir: Path,
                     shared_dir: Optional[str]) -> Path:
    if not shared_dir:
        return run_cache_dir / split
    return Path(shared_dir).expanduser() / f"{split}-{image_size}px-{content_key(decode_paths, image_size)}"


def content_key(decode_paths: Sequence[str], image_size: int) -> str:
    entries = []
    for path in decode_paths:
        stat = os.stat(path)
        entries.append([os.path.abspath(path), stat.st_size, stat.st_mtime_ns])
    text = json.dumps([DECODE_VERSION, image_size, entries], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
