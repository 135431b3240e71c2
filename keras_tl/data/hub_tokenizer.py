"""A keras-hub preset's own tokenizer, for the vocabulary files that keras-hub keeps in its own layout."""

from __future__ import annotations

from pathlib import Path
from typing import Union

from keras_tl.errors import DataError
from keras_tl.text_checkpoint import TextFamily


def hub_tokenizer(checkpoint: Union[Path, str], family: TextFamily):
    """keras_hub.models.<family tokenizer>.from_preset(checkpoint), with failures as one line."""
    import keras_hub

    try:
        return getattr(keras_hub.models, family.tokenizer).from_preset(str(checkpoint))
    except Exception as err:  # noqa: BLE001 - offline downloads and foreign folders become one line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"cannot read a {family.name} tokenizer from {checkpoint}: {first[:200]}") from None
