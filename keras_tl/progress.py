"""Progress bars for long steps (data scan, evaluation, ...): drawn on a terminal, silent in logs and pipes."""

from __future__ import annotations

import sys
from typing import Iterable, Optional

from tqdm.auto import tqdm


def progress(iterable: Iterable, description: str, total: Optional[int] = None, unit: str = "it") -> Iterable:
    """Wrap ``iterable`` in a tqdm bar on stderr; tqdm itself turns the bar off when stderr is not a terminal."""
    return tqdm(iterable, desc=description, total=total, unit=unit, disable=None, leave=False, dynamic_ncols=True)


def keras_verbose() -> int:
    """``verbose`` for Keras' fit/predict: its own progress bar on a terminal, nothing in logs."""
    return 1 if sys.stdout.isatty() else 0
