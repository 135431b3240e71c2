"""Speed options reach Keras: mixed precision (saved as float32), XLA and steps per execution."""

import keras
import numpy as np
import pytest

import keras_tl
from keras_tl.config import load_config
from keras_tl.errors import ConfigError
from keras_tl.models import build_classifier, load_trained_model
from keras_tl.train import compile_for, compile_options, float32_model, head_of, precision_policy
from tests.helpers import NO_AUGMENT, fit_fresh_model

def phase1_head(config, prepared, tmp_path, name):
    return fit_fresh_model(config, prepared, tmp_path / name)[0]


def test_xla_and_steps_per_execution_train_the_same_cached_head(config_factory, prepared, tmp_path):
    # No dropout: XLA draws its random numbers with another algorithm.
    phase1 = {"phase1": {"epochs": 2}, "phase2": {"epochs": 0}, "deterministic": False}
    model = {"dropout": 0.0}
    plain = phase1_head(config_factory(data=NO_AUGMENT, model=model, train=phase1), prepared, tmp_path, "plain")
    fast = phase1_head(config_factory(data=NO_AUGMENT, model=model, train={
        **phase1, "jit_compile": "on", "steps_per_execution": 2}), prepared, tmp_path, "fast")
    head = "tl_predictions"
    for got, want in zip(fast.get_layer(head).get_weights(), plain.get_layer(head).get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_compile_options_and_the_xla_determinism_conflict(config_factory):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    train = config_factory(train={"jit_compile": "on", "steps_per_execution": 4, "deterministic": False}).train
    compile_for(model, keras.optimizers.Adam(), False, **compile_options(train))
    assert model.jit_compile is True and model.steps_per_execution == 4
    assert compile_options(config_factory().train) == {"jit_compile": "auto", "steps_per_execution": 1}
    with pytest.raises(ConfigError, match="jit_compile: on needs train.deterministic: false"):
        compile_options(config_factory(train={"jit_compile": True}).train)


def test_mixed_bfloat16_trains_and_hands_on_a_float32_model(config_factory, prepared, tmp_path):
    config = config_factory(data=NO_AUGMENT, train={"phase1": {"epochs": 1}, "phase2": {"epochs": 0},
                                                    "mixed_precision": "mixed_bfloat16"})
    model = phase1_head(config, prepared, tmp_path, "bf16")
    assert model.get_layer("Conv1").compute_dtype == "bfloat16"
    assert model.get_layer("tl_predictions").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    exact = float32_model(model)
    assert {layer.dtype_policy.name for layer in exact.layers} == {"float32"}
    for got, want in zip(exact.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    reference = build_classifier(config.model, 3)  # built in float32 from the start
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(exact.predict(images, verbose=0), reference.predict(images, verbose=0), atol=1e-6)
    with precision_policy("mixed_float16"):
        half = build_classifier(config.model, 3)
    assert head_of(half)[0].dtype_policy.name == "mixed_float16"  # so Keras scales the head's loss


def test_speed_and_cache_keys_read_naturally_from_yaml_and_refuse_bad_combinations():
    assert load_config(overrides=["train.cache_features=on", "train.jit_compile=off"]).train.cache_features == "on"
    assert load_config(overrides=["train.jit_compile=false"]).train.jit_compile == "off"
    with pytest.raises(ConfigError, match="'train.cache_features': input should be 'auto', 'on' or 'off'"):
        load_config(overrides=["train.cache_features=maybe"])
    with pytest.raises(ConfigError, match="^data.cache_dir is only used with data.cache: disk"):
        load_config(overrides=["data.cache=memory", "data.cache_dir=/somewhere"])
    assert load_config(overrides=["data.cache=disk", "data.cache_dir=/somewhere"]).data.cache_dir == "/somewhere"
    assert load_config(overrides=["data.cache_dir=/somewhere"]).data.cache == "auto"  # auto may pick disk


@pytest.mark.slow
def test_mixed_float16_run_saves_a_float32_model(config_factory):
    config = config_factory(name="half", data=NO_AUGMENT,
                            train={"phase2": {"epochs": 0}, "mixed_precision": "mixed_float16"})
    run = keras_tl.train_model(config, log=lambda *_: None)
    saved = load_trained_model(run.model_file)
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    assert 0 <= keras_tl.evaluate_model(run.path, "test")["accuracy"] <= 1
