"""Full-int8 TFLite by LiteRT Quantizer: uint8 pixel input, float output, int8 ops, one calibration per file."""

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

import keras

from keras_tl.edge.model import TFLiteModel
from keras_tl.edge.tflite_metadata import read_labels, read_metadata
from keras_tl.export import litert_quantizer, tflite
from keras_tl.export.errors import ExportError
from keras_tl.export.metadata import attach_metadata
from tests.export_helpers import op_types

SIZE = 24


def small_convnet() -> keras.Model:
    """The shape of a mobile base: in-model rescaling, conv + BN + ReLU6, a depthwise block, pooling, softmax."""
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(image)
    x = keras.layers.Conv2D(8, 3, strides=2, use_bias=False, name="stem")(x)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Conv2D(12, 1, activation="relu", name="stem_1")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    # large output weights: the four classes' probabilities differ from image to image, so agreement can fail
    head = keras.layers.Dense(4, activation="softmax", name="tl_predictions",
                              kernel_initializer=keras.initializers.RandomNormal(stddev=4.0, seed=0))
    return keras.Model(image, head(x))


@pytest.fixture(scope="module")
def fp32_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = small_convnet()
    rng = np.random.default_rng(0)
    # non-zero BN statistics, so folding them is part of what the int8 file must reproduce
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
    saved = tmp_path_factory.mktemp("litert-quantizer") / "saved"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    return tflite.convert(saved, "fp32")


def pixels(count: int, seed: int) -> np.ndarray:
    """Images of one random colour each plus noise: pooled features differ from image to image."""
    rng = np.random.default_rng(seed)
    colour = rng.uniform(0, 255, (count, 1, 1, 3))
    return np.clip(colour + rng.normal(0, 30, (count, SIZE, SIZE, 3)), 0, 255).round().astype(np.float32)


def calibration(count: int):
    return ({"image": image[None]} for image in pixels(count, seed=1))


def load(content: bytes, tmp_path, name: str = "model.tflite") -> TFLiteModel:
    path = tmp_path / name
    path.write_bytes(attach_metadata(content, ["a", "b", "c", "d"], image_input="image", image_size=SIZE,
                                     name="small", description="small convnet", version="0"))
    return TFLiteModel(path)


def test_int8_file_takes_uint8_pixels_returns_float_and_follows_the_float_file(fp32_file, tmp_path):
    content = litert_quantizer.Int8Quantizer(fp32_file, calibration(200)).quantize("per_channel")
    int8, fp32 = load(content, tmp_path), load(fp32_file, tmp_path, "fp32.tflite")
    image = int8.image_input
    assert image.dtype == np.uint8 and (image.scale, image.zero_point) == (1.0, 0)
    test = pixels(64, seed=2)
    quantized, reference = int8.run({"image": test}), fp32.run({"image": test})
    assert quantized.dtype == np.float32 and quantized.shape == (64, 4)
    assert reference.max(axis=1).min() < 0.6 < reference.max(axis=1).max()  # the test images are told apart
    # ranges from the calibration's extremes; a moving average of per-image extremes clipped: max diff ~0.27
    assert np.abs(quantized - reference).max() < 0.05 and np.abs(quantized - reference).mean() < 0.01
    assert np.mean(quantized.argmax(axis=1) == reference.argmax(axis=1)) >= 0.9
    assert np.allclose(quantized.sum(axis=1), 1.0, atol=2 / 256)  # softmax output in int8 steps of 1/256
    types = op_types(content)
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        assert types[op] == {schema.TensorType.INT8}, op
    assert tflite.image_input_type(content, "image") == "uint8"
    assert read_labels(int8.path.read_bytes(), read_metadata(int8.path.read_bytes())) == ["a", "b", "c", "d"]


def test_every_granularity_reuses_the_one_calibration(fp32_file):
    drawn = []

    def counted():
        for sample in calibration(12):
            drawn.append(1)
            yield sample

    quantizer = litert_quantizer.Int8Quantizer(fp32_file, counted())
    per_tensor = quantizer.quantize("per_tensor")
    per_channel = quantizer.quantize("per_channel")
    assert len(drawn) == 12
    assert len(per_tensor) < len(per_channel)  # one scale per tensor instead of one per output channel


def test_float_image_input_stays_float(fp32_file, tmp_path):
    content = litert_quantizer.Int8Quantizer(fp32_file, calibration(12)).quantize(int8_image_input="float32")
    model = load(content, tmp_path)
    assert model.image_input.dtype == np.float32
    assert tflite.image_input_type(content, "image") == "float32"


def test_a_calibration_keyed_by_another_input_name_is_one_line(fp32_file):
    samples = [{"pixels": pixels(1, seed=3)}]
    with pytest.raises(ExportError) as caught:
        litert_quantizer.Int8Quantizer(fp32_file, samples).quantize()
    assert str(caught.value).startswith("LiteRT Quantizer int8 failed: ") and "\n" not in str(caught.value)


def test_an_unknown_granularity_is_refused():
    with pytest.raises(ExportError, match="unknown int8 granularity 'per_block'"):
        litert_quantizer.recipe("per_block")


def test_named_layers_stay_float_and_the_rest_stays_int8(fp32_file, tmp_path):
    quantizer = litert_quantizer.Int8Quantizer(fp32_file, calibration(200))
    all_int8 = quantizer.quantize("per_channel")
    # 'stem' must not also claim 'stem_bn' (folded into it anyway) or 'stem_1', traced as stem_1_1 / stem_1_2
    mixed = quantizer.quantize("per_channel", float_layers=["stem", "dw"])
    types = op_types(mixed)
    assert types["DEPTHWISE_CONV_2D"] == {schema.TensorType.FLOAT32}
    assert types["CONV_2D"] == {schema.TensorType.FLOAT32, schema.TensorType.INT8}  # stem float, stem_1 int8
    assert types["FULLY_CONNECTED"] == {schema.TensorType.INT8}
    assert len(mixed) > len(all_int8)  # the float ops keep float32 weights
    model, fp32 = load(mixed, tmp_path), load(fp32_file, tmp_path, "fp32.tflite")
    assert model.image_input.dtype == np.uint8
    test = pixels(64, seed=2)
    assert np.abs(model.run({"image": test}) - fp32.run({"image": test})).max() < 0.05


def test_a_float_layer_the_model_lacks_is_one_line(fp32_file):
    with pytest.raises(ExportError, match="export.int8_float_layers: the model has no layer 'stem_2'"):
        litert_quantizer.Int8Quantizer(fp32_file, calibration(4)).quantize(float_layers=["stem_2"])
