"""Pruning and quantization-aware training with TFMOT, through a Keras 3 -> tf_keras bridge (docs/compression.md).

Entry points (each takes the run's Keras 3 model, its PreparedData and the ExperimentConfig):

- ``prune_run_model(model, data, cfg) -> PruneResult``: a pruned Keras 3 copy of the model (every export path
  applies to it) and the achieved sparsity per layer type.
- ``qat_int8_tflite(model, data, cfg) -> QatResult``: full-int8 TFLite bytes from quantization-aware training, with
  the QAT model's and the artifact's outputs on the test split. Pass the pruned model with ``export.prune`` set for
  sparsity-preserving QAT.

``keras-tl export --prune/--qat`` runs them through ``keras_tl.export.tfmot.pipeline`` (``compress`` before the
artifacts are built, ``record`` after). Only this package imports tf_keras / TFMOT, and it leaves
``TF_USE_LEGACY_KERAS`` as it found it.
"""

from keras_tl.export.tfmot.bridge import check_same_outputs, copy_weights_to_keras, leaf_layers, to_tf_keras
from keras_tl.export.tfmot.convert import gzip_size, run_tflite, tflite_bytes, top1_agreement
from keras_tl.export.tfmot.layers import BridgeError
from keras_tl.export.tfmot.prune import PRUNABLE_LAYERS, PruneResult, prune_run_model, sparsity_by_layer_type
from keras_tl.export.tfmot.qat import QatResult, qat_int8_tflite

__all__ = [
    "PRUNABLE_LAYERS",
    "BridgeError",
    "PruneResult",
    "QatResult",
    "check_same_outputs",
    "copy_weights_to_keras",
    "gzip_size",
    "leaf_layers",
    "prune_run_model",
    "qat_int8_tflite",
    "run_tflite",
    "sparsity_by_layer_type",
    "tflite_bytes",
    "to_tf_keras",
    "top1_agreement",
]
