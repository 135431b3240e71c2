"""Facts about a run folder that tests compare exported or reported figures with."""

from __future__ import annotations


def images_in_splits(run) -> int:
    """How many images the run's train, val and test split files list together."""
    return sum(len((run.splits_dir / f"{name}.txt").read_text(encoding="utf-8").splitlines())
               for name in ("train", "val", "test"))
