"""The Keras 3 -> tf_keras bridge rebuilds our models exactly, flattens nested bases, refuses what it cannot
rebuild in one line, and leaves the rest of the process on Keras 3."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_tl.export.tfmot import BridgeError, check_same_outputs, copy_weights_to_keras, to_tf_keras
from keras_tl.export.tfmot.legacy import tfmot_and_tf_keras
from keras_tl.config import load_config
from keras_tl.data import load_images
from keras_tl.errors import KerasTLError
from keras_tl.models import build_classifier
from tests.helpers import statistics_of_a_trained_model

SIZE = 32


@pytest.fixture(scope="module")
def images(image_folder):
    return load_images(sorted(str(p) for p in image_folder.rglob("*.*"))[::2], SIZE)


@pytest.mark.parametrize("backbone, extra", [
    ("mobilenetv2", {"alpha": 0.35}),  # Rescaling preprocessing, ReLU6, ZeroPadding, DepthwiseConv2D
    ("efficientnetb0", {}),  # Rescaling + Normalization inside the base, swish, squeeze-excite Multiply/Reshape
    ("resnet50", {}),  # caffe preprocessing: ChannelReverse + Rescaling; MaxPooling, ZeroPadding
    ("efficientnet_lite0", {}),  # (x - 127) / 128 in a Normalization set at build time; no squeeze-excite
])
def test_rebuild_reproduces_the_keras3_model(backbone, extra, images):
    cfg = load_config(model={"backbone": backbone, "input_size": SIZE, "weights": "none", **extra})
    keras.utils.set_random_seed(1)
    model = statistics_of_a_trained_model(build_classifier(cfg.model, 3), images)
    rebuilt = to_tf_keras(model)
    _, tf_keras = tfmot_and_tf_keras()
    assert isinstance(rebuilt, tf_keras.Model)
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
    expected = np.asarray(model(images, training=False))
    assert np.ptp(expected, axis=0).max() > 1e-3  # the outputs depend on the image, so equality means something
    assert check_same_outputs(model, rebuilt, images) <= 1e-5


def test_nested_base_is_flattened_and_weights_copy_back(images):
    base = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=0.35, include_top=False, weights=None)
    statistics_of_a_trained_model(base, images)
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="tl_preprocess")(image)
    x = base(x, training=False)  # the Keras transfer-learning guide's nested layout
    x = keras.layers.GlobalAveragePooling2D(name="tl_pool")(x)
    model = keras.Model(image, keras.layers.Dense(3, activation="softmax", name="tl_predictions")(x))
    rebuilt = to_tf_keras(model)
    _, tf_keras = tfmot_and_tf_keras()
    assert not any(isinstance(layer, tf_keras.Model) for layer in rebuilt.layers)
    assert len(rebuilt.layers) == len(base.layers) + 3
    assert check_same_outputs(model, rebuilt, images) <= 1e-5

    kernel = rebuilt.get_layer("Conv_1").kernel
    kernel.assign(np.zeros(kernel.shape))
    copy_weights_to_keras(rebuilt, model)
    assert not np.any(np.asarray(base.get_layer("Conv_1").kernel))
    assert check_same_outputs(model, rebuilt, images) <= 1e-5


def test_image_and_text_model_is_refused_in_one_line():
    image = keras.Input((SIZE, SIZE, 3), name="image")
    tokens = keras.Input((8,), dtype="int32", name="token_ids")
    features = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(image),
                                           keras.layers.Flatten()(keras.layers.Embedding(100, 4)(tokens))])
    model = keras.Model([image, tokens], keras.layers.Dense(3, activation="softmax")(features))
    with pytest.raises(BridgeError, match=r"image-only.*image, token_ids") as err:
        to_tf_keras(model)
    assert isinstance(err.value, KerasTLError) and "\n" not in str(err.value)


@keras.saving.register_keras_serializable(package="tests")
class Scale(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2.0


def test_layer_without_tf_keras_twin_is_named():
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = Scale(name="my_scale")(image)
    model = keras.Model(image, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    with pytest.raises(BridgeError, match=r"layer 'my_scale' \(.*Scale\) has no tf_keras equivalent"):
        to_tf_keras(model)


KERAS3_STAYS = textwrap.dedent("""
    import os, tempfile
    import numpy as np, keras, tensorflow as tf
    from keras_tl.config import load_config
    from keras_tl.models import build_classifier, load_trained_model

    cfg = load_config(model={"backbone": "mobilenetv2", "alpha": 0.35, "input_size": 32, "weights": "none"})
    model = build_classifier(cfg.model, 3)
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    before = model.predict(images, verbose=0)

    from keras_tl.export.tfmot import to_tf_keras
    from keras_tl.export.tfmot.legacy import tfmot_and_tf_keras
    tfmot, tf_keras = tfmot_and_tf_keras()
    rebuilt = to_tf_keras(model)
    tfmot.sparsity.keras.prune_low_magnitude(rebuilt.get_layer("Conv1"))  # TFMOT accepts what the bridge builds

    np.testing.assert_array_equal(model.predict(images, verbose=0), before)
    small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])  # Keras 3 training still works
    small.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    losses = small.fit(np.eye(4), np.ones(4), epochs=3, verbose=0).history["loss"]
    assert isinstance(small.optimizer, keras.optimizers.Optimizer) and losses[-1] < losses[0]
    path = os.path.join(tempfile.mkdtemp(), "m.keras")
    model.save(path)
    np.testing.assert_allclose(load_trained_model(path).predict(images, verbose=0), model.predict(images, verbose=0),
                               atol=1e-6)
    print(keras.__version__, tf.keras.version(), os.environ.get("TF_USE_LEGACY_KERAS", "unset"))
""")


def test_keras3_is_unaffected_by_tfmots_legacy_keras_switch(tmp_path):
    """Both in one process: a Keras 3 model built before TFMOT is imported still predicts, saves and loads as
    Keras 3 afterwards, Keras 3 still trains; tf.keras stays Keras 3, and the TF_USE_LEGACY_KERAS switch that TFMOT
    flips is left unset, so subprocesses (the CLI, converters) do not inherit it."""
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    script = tmp_path / "keras3_stays.py"
    script.write_text(KERAS3_STAYS)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    keras_version, tf_keras_version, switch = result.stdout.strip().splitlines()[-1].split()
    assert keras_version.startswith("3.") and tf_keras_version.startswith("3.")
    assert switch == "unset"
