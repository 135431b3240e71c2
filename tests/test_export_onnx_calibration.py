"""int8 ONNX calibration reads its samples a chunk at a time, and every sample counts."""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import keras

from keras_tl.export import onnx_export

SIZE = 16


@pytest.mark.parametrize("samples, chunk", [(300, 10), (12, 6), (7, 7), (13, 1), (1, 1)])
def test_the_chunk_divides_the_samples_and_stays_small(samples, chunk):
    assert onnx_export.calibration_chunk(samples) == chunk


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory):
    keras.utils.set_random_seed(0)
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(image)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(image, keras.layers.Dense(3, activation="softmax", name="head")(x))
    path = tmp_path_factory.mktemp("onnx") / "model_fp32.onnx"
    onnx_export.convert(model, path, opset=17, labels=["a", "b", "c"], producer="test",
                        saved_model=lambda: None)
    return path


@pytest.mark.parametrize("calibrate", ["minmax", "percentile"])
def test_the_last_chunks_extreme_sets_the_input_range(fp32_onnx, tmp_path, calibrate):
    """12 samples go to ORT in two chunks of 6; only the last sample reaches 255. A reader that dropped the last
    chunk (or any sample of it) would calibrate the input to 100."""
    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 100, (1, SIZE, SIZE, 3)).astype("float32") for _ in range(12)]
    images[-1][0, 0, 0, 0] = 255.0
    drawn = []

    def calibration():
        for image in images:
            drawn.append(image)
            yield {"image": image}

    out = tmp_path / "model_int8.onnx"
    onnx_export.quantize(fp32_onnx, out, calibration(), samples=len(images), labels=["a", "b", "c"],
                         producer="test", scratch=tmp_path, calibrate=calibrate, percentile=100.0)
    assert len(drawn) == len(images)
    graph = onnx.load(str(out)).graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    first = next(node for node in graph.node if node.op_type == "QuantizeLinear")  # of the (transposed) image
    scale = float(constants[first.input[1]])
    assert scale * 255 == pytest.approx(255.0, rel=0.02)
