"""Pruning and quantization-aware training with TFMOT, through a Keras 3 -> tf_keras bridge (docs/compression.md).

Entry points (each takes the run's Keras 3 model, its PreparedData and the ExperimentConfig):

- ``prune_run_model(model, data, cfg) -> PruneResult``: a pruned Keras 3 copy of the model (every export path
  applies to it) and the achieved sparsity per layer type.
- ``train_qat_model(model, data, cfg) -> QatModel``: a quantization-aware tf_keras rebuild of the model, fine-tuned.
  Pass the pruned model with ``export.prune`` set for sparsity-preserving QAT.

``saved_model(model, path)`` saves either model (Keras 3 or tf_keras) as the SavedModel that export's one TFLite
converter (``keras_tl.export.tflite.convert``) reads.

``keras-tl export --prune/--qat`` runs them through ``keras_tl.export.tfmot.pipeline`` (``compress`` before the
artifacts are built, ``record`` after). Only this package imports tf_keras / TFMOT, and it leaves
``TF_USE_LEGACY_KERAS`` as it found it.
"""

from keras_tl.export.tfmot.bridge import check_same_outputs, copy_weights_to_keras, leaf_layers, to_tf_keras
from keras_tl.export.tfmot.layers import BridgeError
from keras_tl.export.tfmot.prune import PRUNABLE_LAYERS, PruneResult, prune_run_model, sparsity_by_layer_type
from keras_tl.export.tfmot.qat import QatModel, train_qat_model
from keras_tl.export.tfmot.saved_model import saved_model

__all__ = [
    "PRUNABLE_LAYERS",
    "BridgeError",
    "PruneResult",
    "QatModel",
    "check_same_outputs",
    "copy_weights_to_keras",
    "leaf_layers",
    "prune_run_model",
    "saved_model",
    "sparsity_by_layer_type",
    "to_tf_keras",
    "train_qat_model",
]
