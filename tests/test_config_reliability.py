"""Bad configs end in one short line on stderr: duplicate YAML keys, alias bombs, huge values, keys in the wrong
place (with a suggestion from the whole schema), and ImageNet weights that cannot be downloaded (before any work).
Each case is recorded with the ``bad_input`` fixture (tests/support/bad_inputs.py)."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from keras_tl.config import load_config
from keras_tl.errors import ConfigError
from tests.helpers import tiny_config
from tests.support.bad_inputs import expect_error
from tests.support.files import write_config

MAX_LINE = 500


def yaml_file(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("case,text,fragment", [
    ("duplicate 'model' key in YAML", """\
        name: dup
        model:
          backbone: resnet50
        train:
          phase1:
            epochs: 1
        model:
          dropout: 0.1
        """, "key 'model' appears twice (lines 2 and 7)"),
    ("duplicate nested key in YAML", """\
        train:
          phase1:
            epochs: 1
            learning_rate: 0.01
            epochs: 3
        """, "key 'epochs' appears twice (lines 3 and 5)"),
    ("duplicate key in a YAML list item", """\
        export:
          formats:
            - tflite
            - format: onnx
              quantize: int8
              format: tflite
        """, "key 'format' appears twice (lines 4 and 6)"),
], ids=["top-level", "nested", "list-item"])
def test_duplicate_yaml_keys_are_refused(tmp_path, capsys, bad_input, case, text, fragment):
    path = yaml_file(tmp_path, text)
    line = expect_error(capsys, bad_input, case, fragment, "train", path)
    assert line == f"error: {path}: {fragment}"


def test_merge_keys_may_override_but_not_repeat(tmp_path, capsys, bad_input):
    shared = """\
        train:
          phase1: &phase {epochs: 3, learning_rate: 0.01}
          phase2:
            <<: *phase
            epochs: 2
        """
    config = load_config(yaml_file(tmp_path, shared))
    # An explicit key next to "<<" overrides the merged one: that is what merge keys are for, not a duplicate.
    assert (config.train.phase2.epochs, config.train.phase2.learning_rate, config.train.phase1.epochs) == (2, 0.01, 3)
    bad_input("YAML alias with a merge-key override", "loaded")
    path = yaml_file(tmp_path, shared + "    epochs: 4\n", "repeated.yaml")
    expect_error(capsys, bad_input, "duplicate key next to a merge key", "key 'epochs' appears twice (lines 5 and 6)",
                 "train", path)


def alias_bomb(depth: int) -> str:
    """Billion laughs: each level lists the previous one 9 times, so the value expands to 9**depth strings."""
    levels = ["&l0 [" + ",".join(["lol"] * 9) + "]"]
    levels += [f"&l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, depth)]
    return "name: [" + ", ".join(levels) + "]\n"


@pytest.mark.parametrize("depth", [6, 9])
def test_alias_bombs_are_refused_quickly(tmp_path, capsys, bad_input, depth):
    path = yaml_file(tmp_path, alias_bomb(depth))
    assert path.stat().st_size < 120 * depth  # a few hundred bytes that would expand to 9**depth values
    start = time.monotonic()
    line = expect_error(capsys, bad_input, f"YAML alias bomb of depth {depth}", "YAML aliases (*name) expand to more",
                        "train", path)
    assert time.monotonic() - start < 5 and len(line) < MAX_LINE


@pytest.mark.parametrize("case,args,fragment", [
    ("100,000-character value in YAML", ("model:\n  pooling: " + "x" * 100_000 + "\n",),
     "error: config key 'model.pooling'"),
    ("100,000-character value in an override", ("name: big\n", "-o", "model.pooling=" + "x" * 100_000),
     "error: config key 'model.pooling'"),
    ("100,000-character unknown key in an override", ("name: big\n", "-o", "k" * 100_000 + "=1"),
     "unknown config key 'kkk"),
], ids=["yaml-value", "override-value", "override-key"])
def test_huge_inputs_give_short_errors(tmp_path, capsys, bad_input, case, args, fragment):
    path = yaml_file(tmp_path, args[0])
    line = expect_error(capsys, bad_input, case, fragment, "train", path, *args[1:])
    assert len(line) <= MAX_LINE, line[:600]


def test_multi_line_error_is_printed_on_one_line(tmp_path, capsys, bad_input):
    expect_error(capsys, bad_input, "config path with a newline in it", "config file not found", "train",
                 tmp_path / "two\nlines.yaml")


@pytest.mark.parametrize("case,checks", [
    ("epochs set for both phases at once",
     [("train.epochs", ["train.phase1.epochs", "train.phase2.epochs"])]),
    ("typo of a per-phase key", [("train.epocs", ["train.phase1.epochs", "train.phase2.epochs"])]),
    ("a data key at the top level", [("batch_size", ["data.batch_size"])]),
    ("a phase-2 key in phase 1", [("train.phase1.warmup_epochs", ["train.phase2.warmup_epochs"])]),
    ("a model key misspelt, or in another section",
     [("model.dropuot", ["model.dropout"]), ("train.dropout", ["model.dropout"])]),
    ("an augment key misspelt, or in another section",
     [("data.augment.flipp", ["data.augment.flip"]), ("model.flip", ["data.augment.flip"])]),
])
def test_unknown_keys_are_matched_across_the_whole_schema(tmp_path, capsys, bad_input, case, checks):
    path = yaml_file(tmp_path, "name: typo\n")
    for key, suggestions in checks:
        hint = "did you mean " + " or ".join(f"'{s}'" for s in suggestions) + "?"
        line = expect_error(capsys, bad_input, f"unknown config key '{key}' ({case})", hint, "train", path, "-o",
                            f"{key}=1")
        assert line.startswith(f"error: unknown config key '{key}'") and line.endswith(hint), line


# Rules across config keys that training, data preparation or export used to enforce only once they ran: the
# schema refuses them, so load_config (and every command that reads a config) stops with the same line at once.
@pytest.mark.parametrize("case,overrides,message", [
    ("jit_compile: on with deterministic: true", ["train.jit_compile=on"],
     "train.jit_compile: on needs train.deterministic: false (TensorFlow cannot run XLA-compiled training "
     "deterministically)"),
    ("val + test fractions of 1 or more", ["data.val_fraction=0.5", "data.test_fraction=0.5"],
     "data.val_fraction + data.test_fraction must be below 1 (the train split needs images)"),
    ("negative fine_tune_from", ["train.phase2.fine_tune_from=-1"],
     "train.phase2.fine_tune_from must be >= 0 (the number of top base layers to unfreeze)"),
    ("cache_features: on for a text model", ["train.cache_features=on", "model.modality=image_text"],
     "train.cache_features: on cannot be used here: model.modality: image_text takes text; only image-only models "
     "train on cached features; set it to auto or off"),
    ("cache_features: on with a distribution strategy", ["train.cache_features=on", "train.distribution=mirrored"],
     "train.cache_features: on cannot be used here: train.distribution: mirrored; cached features train on one "
     "device, so the base runs in every step; set it to auto or off"),
    ("export formats without a precision they take", ["export.formats=[onnx]", "export.quantize=[fp16, dynamic]"],
     "nothing to export: no format in ['onnx'] has a precision in ['fp16', 'dynamic']"),
    ("QAT of a text model", ["export.qat=true", "model.modality=text"],
     "pruning and QAT support image-only models, not model.modality: text (models that read text cannot be "
     "rebuilt in tf_keras): export it without --prune/--qat"),
    ("float layers with TFLiteConverter", ["export.int8_float_layers=[conv1]", "export.int8_quantizer=converter"],
     "export.int8_float_layers needs export.int8_quantizer: litert (TFLiteConverter keeps no chosen layers float)"),
    ("float layers of a text model", ["export.int8_float_layers=[conv1]", "model.modality=image_text"],
     "export.int8_float_layers supports image-only models, not model.modality: image_text; export.int8_text_tower "
     "sets what of the text tower stays float"),
], ids=["xla-determinism", "fractions", "fine-tune-from", "cache-text", "cache-distribution", "export-plan",
        "qat-text", "float-layers-converter", "float-layers-text"])
def test_cross_key_rules_are_refused_by_load_config(tmp_path, capsys, bad_input, case, overrides, message):
    with pytest.raises(ConfigError) as refused:
        load_config(overrides=overrides)
    assert str(refused.value) == message
    path = yaml_file(tmp_path, f"name: rules\noutput_dir: {tmp_path / 'runs'}\n")
    args = [item for override in overrides for item in ("-o", override)]
    line = expect_error(capsys, bad_input, f"config with {case}", message, "train", path, *args)
    assert line == f"error: {message}"
    assert not (tmp_path / "runs").exists()  # refused before any run folder


# Runs the CLI with an empty Keras cache (nothing here reaches the network, so a download fails at once), then asks
# keras.applications itself which file it would have fetched.
OFFLINE_SCRIPT = """
import contextlib, io, json, re, sys
import keras
from keras_tl.cli.main import main
from keras_tl.models import get_backbone
results = {}
for name, (path, alpha) in json.loads(sys.argv[1]).items():
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["train", path])
    spec = get_backbone(name)
    kwargs = {"alpha": alpha} if alpha else {}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            spec.constructor(include_top=False, weights="imagenet", input_shape=(32, 32, 3), **kwargs)
        keras_error = ""
    except Exception as error:
        keras_error = str(error)
    results[name] = {"code": code, "out": out.getvalue(), "err": err.getvalue(), "keras_error": keras_error}
print(json.dumps(results))
"""
OFFLINE_BACKBONES = {"mobilenetv2": 0.35, "resnet50": None}


@pytest.fixture(scope="module")
def offline_runs(tmp_path_factory, image_folder):
    root = tmp_path_factory.mktemp("offline")
    configs = {}
    for backbone, alpha in OFFLINE_BACKBONES.items():
        config = tiny_config(root / "runs", image_folder, "imagenet", name=backbone,
                             model={"backbone": backbone, "alpha": alpha})
        configs[backbone] = [str(write_config(root / f"{backbone}.yaml", config)), alpha]
    keras_home = root / "keras-home"
    keras_home.mkdir()
    result = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT, json.dumps(configs)], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "KERAS_HOME": str(keras_home)})
    assert result.returncode == 0, result.stderr[-3000:]
    return root, keras_home, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("backbone", list(OFFLINE_BACKBONES))
def test_imagenet_weights_offline_fail_before_any_work(offline_runs, bad_input, backbone):
    root, keras_home, results = offline_runs
    result = results[backbone]
    lines = result["err"].strip().splitlines()
    assert result["code"] == 2 and len(lines) == 1, result
    line = lines[0]
    assert line.startswith(f"error: could not download the ImageNet weights of {backbone} (") and \
        "offline, use model.backbone: efficientnet_lite0" in line and "model.weights: PATH" in line, line
    # The download tried is the very file keras.applications would fetch (and later find in the cache).
    url = next(word for word in line.split() if word.startswith("https://"))
    assert url.rstrip(":);") in result["keras_error"], (line, result["keras_error"][:500])
    assert all(out.startswith("Downloading data from") for out in result["out"].splitlines()), result["out"]
    assert not (root / "runs" / backbone).exists()  # failed before the run folder, the scan or any build
    assert not any((keras_home / "models").iterdir())  # no partial download left in the cache
    bad_input(f"imagenet weights offline ({backbone})", "one-line error before the data scan")
