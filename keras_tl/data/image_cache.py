"""Where a split's decoded, resized images are cached: which mode ``data.cache: auto`` picks, and the disk file.

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
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

# Bump when load_image changes how pixels come out (resize method, antialiasing, clipping, dtype). 2: uint8.
DECODE_VERSION = 2
# auto caches in memory what fits in this share of the RAM available when training starts: the model, TensorFlow
# and the batches in flight need the rest. A disk cache is read back through the OS page cache, so where RAM is
# to spare it is served from memory all the same, without the process holding it (the kernel can reclaim it).
MEMORY_SHARE = 0.25
# ... and on disk what fits in this share of the folder's free space.
DISK_SHARE = 0.9


def image_cache_file(split: str, decode_paths: Sequence[str], image_size: int, *, run_cache_dir: Path,
                     shared_dir: Optional[str]) -> Path:
    if not shared_dir:
        return run_cache_dir / f"{split}-v{DECODE_VERSION}"  # a resumed run of an older keras_tl decodes anew
    return Path(shared_dir).expanduser() / f"{split}-{image_size}px-{content_key(decode_paths, image_size)}"


def content_key(decode_paths: Sequence[str], image_size: int) -> str:
    entries = []
    for path in decode_paths:
        stat = os.stat(path)
        entries.append([os.path.abspath(path), stat.st_size, stat.st_mtime_ns])
    text = json.dumps([DECODE_VERSION, image_size, entries], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def image_bytes(image_size: int) -> int:
    """Bytes of one decoded image in a cache or shuffle buffer (uint8 RGB)."""
    return image_size * image_size * 3


@dataclass(frozen=True)
class CacheChoice:
    mode: str  # memory | disk | none
    reason: str  # one line for the log


def choose_cache(requested: str, *, cached_images: int, shuffle_images: int, image_size: int, folder: Path,
                 memory_mb: Optional[float] = None, disk_mb: Optional[float] = None) -> CacheChoice:
    """The cache mode for ``requested`` (memory, disk, none, or auto) and why.

    auto: memory when the cached images and the shuffle buffer fit the memory budget; else disk when the images
    fit the disk budget (and the shuffle buffer the memory one); else none. ``memory_mb`` / ``disk_mb`` are the
    budgets (data.cache_memory_mb / data.cache_disk_mb); by default a share of the available RAM and of the free
    space under ``folder``."""
    if requested != "auto":
        return CacheChoice(requested, f"data.cache: {requested}")
    per_image = image_bytes(image_size)
    cache, shuffle = cached_images * per_image, shuffle_images * per_image
    if memory_mb is not None:
        memory, memory_why = memory_mb * 2**20, "data.cache_memory_mb"
    else:
        memory, memory_why = MEMORY_SHARE * available_memory(), f"{MEMORY_SHARE:.0%} of the available RAM"
    if disk_mb is not None:
        disk, disk_why = disk_mb * 2**20, "data.cache_disk_mb"
    else:
        disk, disk_why = DISK_SHARE * free_disk(folder), f"{DISK_SHARE:.0%} of the free space under {folder}"
    what = f"{cached_images:,} images at {image_size} px take {_size(cache)} as uint8"
    if cache + shuffle <= memory:
        return CacheChoice("memory", f"data.cache: auto chose memory: {what} (+ {_size(shuffle)} of shuffle buffer), "
                                     f"within the memory budget of {_size(memory)} ({memory_why})")
    over = f"{what} (+ {_size(shuffle)} of shuffle buffer), over the memory budget of {_size(memory)} ({memory_why})"
    if cache <= disk and shuffle <= memory:
        return CacheChoice("disk", f"data.cache: auto chose disk: {over}, within the disk budget of {_size(disk)} "
                                   f"({disk_why})")
    return CacheChoice("none", f"data.cache: auto chose none (images are decoded again every epoch): {over}, and "
                               f"the disk budget of {_size(disk)} ({disk_why}) is too small")


def available_memory() -> int:
    """Bytes of RAM this process may still take: the kernel's estimate of available memory, within the limit of
    the process's cgroup (a container's limit is usually far below the machine's RAM)."""
    available = _meminfo_available()
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit, usage = Path(limit_file).read_text().strip(), int(Path(usage_file).read_text())
        except (OSError, ValueError):
            continue
        if limit.isdigit():
            available = min(available, max(int(limit) - usage, 0))
        break
    return available


def _meminfo_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # not Linux: half the physical memory, as a guess that stays on the safe side
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (OSError, ValueError, AttributeError):
        return 0


def free_disk(folder: Path) -> int:
    """Free bytes on the file system ``folder`` is (or will be) on."""
    folder = Path(folder).expanduser().absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _size(count: float) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"


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
