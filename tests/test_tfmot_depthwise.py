"""QAT simulates DepthwiseConv2D kernels per channel, as the int8 TFLite file stores them."""

import numpy as np

from keras_tl.export.tfmot.depthwise import depthwise_quantizer_class
from keras_tl.export.tfmot.legacy import tfmot_and_tf_keras
from keras_tl.export.tfmot.quantize import quantization_aware
from tests.support.tfmot import tflite_file

LARGE, SMALL = 1.0, 0.002  # with one scale for both channels (step 1/127), the small channel would round to zeros


def depthwise_model():
    _, tf_keras = tfmot_and_tf_keras()
    image = tf_keras.Input((8, 8, 2))
    x = tf_keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(image)
    x = tf_keras.layers.BatchNormalization(name="bn")(x)
    x = tf_keras.layers.ReLU(6.0, name="relu")(x)
    x = tf_keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = tf_keras.layers.Dense(2, activation="softmax", name="head")(x)
    model = tf_keras.Model(image, outputs)
    kernel = np.random.default_rng(0).uniform(0.2, 1.0, (3, 3, 2, 1)).astype("float32")
    kernel[:, :, 0] *= LARGE
    kernel[:, :, 1] *= SMALL
    model.get_layer("dw").set_weights([kernel])
    return model, kernel


def test_the_qat_model_quantizes_each_depthwise_channel_with_its_own_scale():
    model, kernel = depthwise_model()
    qat = quantization_aware(model, preserve_sparsity=False)
    wrapper = qat.get_layer("quant_dw")
    (_, quantizer, variables), = wrapper._weight_vars
    assert isinstance(quantizer, depthwise_quantizer_class())
    simulated = np.asarray(quantizer(kernel, False, variables))
    for channel in range(2):
        step = np.abs(kernel[:, :, channel]).max() / 127
        assert np.abs(simulated[:, :, channel] - kernel[:, :, channel]).max() <= step / 2 + 1e-9
    assert np.count_nonzero(simulated[:, :, 1]) == kernel[:, :, 1].size


def test_the_int8_file_stores_the_same_per_channel_scales(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    model, kernel = depthwise_model()
    qat = quantization_aware(model, preserve_sparsity=False)
    images = np.random.default_rng(1).uniform(0, 255, (8, 8, 8, 2)).astype("float32")
    qat.predict(images, verbose=0)
    interpreter = Interpreter(model_content=tflite_file(qat, tmp_path / "qat.tflite", "int8", images).read_bytes())
    scales = [d["quantization_parameters"]["scales"] for d in interpreter.get_tensor_details()
              if d["dtype"] == np.int8 and len(d["shape"]) == 4 and len(d["quantization_parameters"]["scales"]) == 2]
    assert len(scales) == 1  # the depthwise kernel (BatchNorm folded in: each channel scaled by its own factor)
    gamma, beta, mean, variance = qat.get_layer("quant_bn").layer.get_weights()
    folded = np.abs(kernel).max(axis=(0, 1, 3)) * gamma / np.sqrt(variance + 1e-3)
    np.testing.assert_allclose(scales[0], folded / 127, rtol=1e-3)
