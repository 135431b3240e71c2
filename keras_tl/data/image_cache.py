"""Where a split's decoded, resized images are cached on disk (``data.cache: disk``).

Without ``data.cache_dir`` the cache lives in the run folder. With it, the cache file is named after what it
holds -- the decode size and every image's path, size and modification time, in split order -- so runs over the
same images share one cache, and an edited, added or removed image gives a new name instead of stale pixels.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
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


_HELD: dict[str, int] = {}  # cache prefix -> open lock file, held (shared) until the process ends


def claim_cache(cache_file: Path) -> None:
    """Mark ``cache_file`` as in use by this process, first removing what a killed writer left of it.

    tf.data writes a cache as ``<prefix>_<n>.lockfile`` plus temporary shards and only writes ``<prefix>.index``
    once complete; a killed writer leaves its lockfile behind and the next run fails with AlreadyExistsError.
    Every keras_tl process holds a shared lock on ``<prefix>.lock`` while it may use the cache, so getting the
    exclusive lock proves no live process (of any run sharing data.cache_dir) is writing it: only then do the
    leftovers of an incomplete cache go."""
    key = str(cache_file)
    if key in _HELD:
        return
    fd = os.open(f"{cache_file}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fcntl.flock(fd, fcntl.LOCK_SH)  # another run uses it now: its files are not stale
    else:
        if not Path(f"{cache_file}.index").is_file():
            _remove_partial(cache_file)
        fcntl.flock(fd, fcntl.LOCK_SH)
    _HELD[key] = fd


def _remove_partial(cache_file: Path) -> None:
    partial = re.compile(re.escape(cache_file.name) + r"(_\d+)?\.(lockfile|index|data-\d+-of-\d+)(\.tempstate-?\d+)?")
    for path in cache_file.parent.iterdir():
        if partial.fullmatch(path.name):
            path.unlink(missing_ok=True)
