"""A trained run as export needs it: the Keras model, its labels, calibration inputs and the verification split.

Inputs are always dicts keyed by the model's input names ("image", and "token_ids" + "padding_mask" for models
that read text), which is what the TFLite converter needs for multi-input models and what every runtime takes.
Texts are tokenized with the run's own tokenizer.json, exactly as in training.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Iterator

import keras
import numpy as np

from keras_tl.export.errors import ExportError
from keras_tl.config import ExperimentConfig
from keras_tl.data import TEXT_INPUTS, load_image, load_prepared
from keras_tl.models import IMAGE_INPUT, input_size, load_trained_model, model_input_names
from keras_tl.progress import progress
from keras_tl.run import RunFolder

VERIFY = "verify"  # the samples artifacts are verified on (a pseudo-split of the run's data)


class RunInputs:
    def __init__(self, run: RunFolder, config: ExperimentConfig):
        self.run = run
        self.config = config
        self.model_file = run.require_model()  # export --prune swaps in the pruned model and its file
        self.model: keras.Model = load_trained_model(self.model_file)
        self.data = load_prepared(run, config.data, config.model.multi_label)
        self.image_size = input_size(config.model)
        self.input_names = model_input_names(self.model)
        unknown = [name for name in self.input_names if name not in (IMAGE_INPUT, *TEXT_INPUTS)]
        if unknown:
            raise ExportError(f"the model takes inputs that keras_tl data does not provide ({', '.join(unknown)})")
        if self.takes_text and self.data.tokenizer is None:
            raise ExportError(f"the model reads text but {run.tokenizer_file} is missing; rerun 'keras-tl train'")
        self.split = self._labelled_split()
        # Agreement needs no labels, so it is measured on every split, up to export.verify_samples images: the
        # labelled split first (its rows give the accuracy), then the other held-out split, then train images.
        self.data = replace(self.data, splits={**self.data.splits, VERIFY: self._verification_samples()})
        self.accuracy_rows = min(len(self.data.splits[self.split]), self.config.export.verify_samples)

    @property
    def labels(self) -> list[str]:
        return self.data.label_names

    @property
    def multi_label(self) -> bool:
        return self.data.multi_label

    @property
    def takes_image(self) -> bool:
        return IMAGE_INPUT in self.input_names

    @property
    def takes_text(self) -> bool:
        return any(name in TEXT_INPUTS for name in self.input_names)

    def representative_count(self, count: int) -> int:
        """How many samples ``representative(count)`` yields."""
        return min(count, len(self.data.paths("train")))

    def representative(self, count: int) -> Iterator[dict]:
        """Batch-1 input dicts of up to ``count`` train samples, a seeded random sample (calibrates int8).

        Images are decoded afresh on every call, so large images never sit in memory all at once."""
        paths = self.data.paths("train")
        order = np.random.default_rng(self.config.seed).permutation(len(paths))[:count]
        texts = self.data.text_inputs("train") if self.takes_text else {}
        for index in progress(order, "calibrating int8", total=len(order), unit="image"):
            sample = {name: values[index:index + 1] for name, values in texts.items()}
            if self.takes_image:
                sample[IMAGE_INPUT] = load_image(paths[index], self.image_size).numpy()[None]
            yield sample

    def batches(self, description: str = "") -> Iterator[dict]:
        """The verification images in batches, decoded and tokenized exactly as in training (no augmentation);
        with ``description``, a progress bar on a terminal."""
        batch_size = self.config.data.batch_size
        ds = self.data.dataset(VERIFY, image_size=self.image_size, batch_size=batch_size,
                               training=False, seed=self.config.seed, cache="none", inputs=self.input_names)
        batches = ds.as_numpy_iterator()
        if description:
            batches = progress(batches, description, total=math.ceil(self.verify_count / batch_size), unit="batch")
        for inputs, _ in batches:
            yield inputs if isinstance(inputs, dict) else {IMAGE_INPUT: inputs}

    def targets(self) -> np.ndarray:
        return self.data.targets(VERIFY)

    @property
    def verify_count(self) -> int:
        return len(self.data.splits[VERIFY])

    def sample(self) -> dict:
        """One batch-1 input (for latency measurements)."""
        first = next(self.batches())
        return {name: values[:1] for name, values in first.items()}

    def _labelled_split(self) -> str:
        for split in ("test", "val"):
            if self.data.splits[split]:
                return split
        raise ExportError(f"{self.run.path} has no test or val samples to measure exported models' accuracy on")

    def _verification_samples(self) -> list:
        limit = self.config.export.verify_samples
        other = "val" if self.split == "test" else "test"
        picked: list = []
        for pool in (self.data.splits[self.split], self.data.splits[other], self.data.splits["train"]):
            room = limit - len(picked)
            if room <= 0:
                break
            chosen = np.random.default_rng(self.config.seed).permutation(len(pool))[:room]
            picked += [pool[i] for i in sorted(chosen)]
        return picked
