"""Turn a flat tf_keras model into a quantization-aware one with TFMOT's default 8-bit scheme.

Every layer ends up with a quantized output, so the int8 conversion needs no calibration of its own: layers the
8-bit registry supports (and BatchNorm, quantized as one unit with the convolution before it) get its configs;
layers it does not know but that hold no weights -- the in-model preprocessing (Rescaling, Normalization,
ChannelReverse) and EfficientNet's squeeze-excite Multiply -- get an output-only config. (``quantize_model``
refuses these layers.)
DepthwiseConv2D kernels are then simulated per channel, as the converter stores them (see depthwise.py).
"""

from __future__ import annotations

import functools

from keras_tl.export.tfmot.depthwise import quantize_depthwise_per_channel
from keras_tl.export.tfmot.layers import BridgeError, channel_reverse_class
from keras_tl.export.tfmot.legacy import tfmot_and_tf_keras


def quantization_aware(tf_keras_model, *, preserve_sparsity: bool):
    tfmot, tf_keras = tfmot_and_tf_keras()
    quantize = tfmot.quantization.keras
    registry = quantize.default_8bit.Default8BitQuantizeScheme().get_quantize_registry()
    output_only = output_range_config_class()

    def annotate(layer):
        if registry.supports(layer) or isinstance(layer, tf_keras.layers.BatchNormalization):
            return quantize.quantize_annotate_layer(layer)
        if layer.weights:
            raise BridgeError(f"layer '{layer.name}' ({type(layer).__name__}) has weights that TFMOT's 8-bit "
                              "scheme cannot quantize")
        return quantize.quantize_annotate_layer(layer, quantize_config=output_only())

    if preserve_sparsity:
        # TFMOT's prune-preserving quantizers skip DepthwiseConv2D; frozen kernels keep their zeros (0 quantizes
        # to exactly 0 in symmetric int8).
        for layer in tf_keras_model.layers:
            if isinstance(layer, tf_keras.layers.DepthwiseConv2D):
                layer.trainable = False
    annotated = tf_keras.models.clone_model(tf_keras_model, clone_function=annotate)
    scheme = (_sparsity_preserving_scheme(registry) if preserve_sparsity
              else quantize.default_8bit.Default8BitQuantizeScheme())
    with quantize.quantize_scope({"ChannelReverse": channel_reverse_class(), "OutputRange": output_only}):
        qat_model = quantize.quantize_apply(annotated, scheme)
    quantize_depthwise_per_channel(qat_model)
    return qat_model


@functools.cache
def output_range_config_class():
    """A QuantizeConfig that only quantizes a layer's output (TFMOT's documented hook for layers it does not know)."""
    tfmot, _ = tfmot_and_tf_keras()
    quantize = tfmot.quantization.keras

    class OutputRange(quantize.QuantizeConfig):
        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [quantize.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                               narrow_range=False)]

        def get_config(self):
            return {}

    return OutputRange


def _sparsity_preserving_scheme(default_registry):
    tfmot, _ = tfmot_and_tf_keras()
    scheme = tfmot.quantization.keras.collab_opts.Default8BitPrunePreserveQuantizeScheme()
    registry = scheme.get_quantize_registry()
    claims = registry.supports
    # The prune-preserve registry claims every layer without trainable weights and then fails to configure the
    # ones the 8-bit registry does not know: only the 8-bit registry knows what is quantizable.
    registry.supports = lambda layer: default_registry.supports(layer) and claims(layer)
    scheme.get_quantize_registry = lambda: registry
    return scheme
