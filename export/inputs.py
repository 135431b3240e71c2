"""A trained run as export needs it: the Keras model, its labels, calibration images and the verification split.

Inputs are always dicts keyed by the model's input names, which is what the TFLite converter needs for
multi-input models and what every runtime takes.
"""

from __future__ import annotations

from typing import Iterator

import keras
import numpy as np

from export.errors import ExportError
from keras_tl.config import ExperimentConfig
from keras_tl.data import load_image, load_prepared
from keras_tl.models import IMAGE_INPUT, input_size, load_trained_model
from keras_tl.run import RunFolder


class RunInputs:
    def __init__(self, run: RunFolder, config: ExperimentConfig):
        self.run = run
        self.config = config
        self.model_file = run.require_model()  # export --prune swaps in the pruned model and its file
        self.model: keras.Model = load_trained_model(self.model_file)
        self.data = load_prepared(run, config.data, config.model.multi_label)
        self.image_size = input_size(config.model)
        self.input_names = [tensor.name for tensor in self.model.inputs]
        extra = [name for name in self.input_names if name != IMAGE_INPUT]
        if extra:
            raise ExportError(f"the model takes inputs besides '{IMAGE_INPUT}' ({', '.join(extra)}); exporting "
                              "multi-input models needs those inputs from the run's data, which this run lacks")
        self.split = self._verification_split()

    @property
    def labels(self) -> list[str]:
        return self.data.label_names

    @property
    def multi_label(self) -> bool:
        return self.data.multi_label

    def representative(self, count: int) -> Iterator[dict]:
        """Batch-1 input dicts of up to ``count`` train images, a seeded random sample (calibrates int8).

        Decoded afresh on every call, so large images never sit in memory all at once."""
        paths = self.data.paths("train")
        order = np.random.default_rng(self.config.seed).permutation(len(paths))[:count]
        for index in order:
            yield {IMAGE_INPUT: load_image(paths[index], self.image_size).numpy()[None]}

    def batches(self) -> Iterator[dict]:
        """The verification split in batches, decoded exactly as in training (no augmentation)."""
        ds = self.data.dataset(self.split, image_size=self.image_size, batch_size=self.config.data.batch_size,
                               training=False, seed=self.config.seed, cache="none")
        for images, _ in ds.as_numpy_iterator():
            yield images if isinstance(images, dict) else {IMAGE_INPUT: images}

    def targets(self) -> np.ndarray:
        return self.data.targets(self.split)

    def sample(self) -> dict:
        """One batch-1 input (for latency measurements)."""
        first = next(self.batches())
        return {name: values[:1] for name, values in first.items()}

    def _verification_split(self) -> str:
        for split in ("test", "val"):
            if self.data.splits[split]:
                return split
        raise ExportError(f"{self.run.path} has no test or val images to verify exported models on")
