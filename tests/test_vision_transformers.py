"""ViT, DeiT and DINOv2 bases through keras-hub: tiny random Hugging Face checkpoints written here (no download),
loaded with ``model.weights: FOLDER``, rebuilt flat in the keras_tl model, and refused in one line where they cannot
work (mismatched size, wrong or broken folder, pruning/QAT)."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_tl.config import load_config
from keras_tl.errors import KerasTLError, ModelError
from keras_tl.models import FEATURES_LAYER, base_layers, build_classifier, get_backbone, input_size, load_trained_model
from keras_tl.models.registry import list_transformer_backbones
from keras_tl.models.vision_transformer_base import load_backbone
from keras_tl.models.vision_transformer_checkpoint import resolve_checkpoint
from keras_tl.train.freezing import freeze_base, unfreeze_top
from tests.support.hf_image_checkpoints import FAMILIES, write_checkpoint

IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("transformer-checkpoints")
    return {family: write_checkpoint(root / family, family) for family in FAMILIES}


def model_config(backbone, weights, **model):
    return load_config(model={"backbone": backbone, "weights": str(weights), **model}).model


def one_line(error) -> str:
    text = str(error.value)
    assert "\n" not in text and "Traceback" not in text, text
    return text


def raw_images(count=3, size=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype("float32")


def test_registry_has_the_three_families():
    assert list_transformer_backbones() == ["deit", "dinov2", "metaclip2", "vit"]  # metaclip2: test_zero_shot.py
    assert get_backbone("DINO-v2").name == "dinov2" and get_backbone("ViT").name == "vit"
    with pytest.raises(ModelError, match="did you mean 'deit'"):
        get_backbone("deitt")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("pooling", ["cls", "avg"])
def test_flat_model_computes_what_keras_hub_computes(checkpoints, family, pooling):
    """Our graph (normalisation, the blocks one by one, the erf GELU, pooling) equals keras-hub's backbone on the
    normalised pixels."""
    cfg = model_config(family, checkpoints[family], pooling=pooling)
    model = build_classifier(cfg, 3)
    assert input_size(cfg) == 32 and model.input_shape == (None, 32, 32, 3)
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)  # flat: no nested base
    images = raw_images()
    ours = np.asarray(keras.Model(model.input, model.get_layer(FEATURES_LAYER).output)(images))
    spec = get_backbone(family)
    checkpoint = resolve_checkpoint(spec, str(checkpoints[family]))
    backbone = load_backbone(spec, checkpoint, 32)
    normalised = (images / 255.0 - spec.mean) / np.asarray(spec.std)
    pixels = normalised.astype("float32")
    tokens = np.asarray(backbone({"images": pixels} if family == "dinov2" else pixels))  # DINOv2 takes a dict
    expected = tokens[:, 0] if pooling == "cls" else tokens[:, 2 if family == "deit" else 1:].mean(axis=1)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    blocks = [layer.name for layer in base_layers(model) if layer.name.startswith(f"{family}_block_")]
    assert blocks == [f"{family}_block_0", f"{family}_block_1"]


def test_normalisation_comes_from_the_folders_image_processor(tmp_path):
    folder = write_checkpoint(tmp_path / "vit", "vit", preprocessor={
        "image_mean": IMAGENET_MEAN.tolist(), "image_std": IMAGENET_STD.tolist(), "do_normalize": True,
        "do_rescale": True, "rescale_factor": 1 / 255})
    model = build_classifier(model_config("vit", folder), 2)
    images = raw_images(1)
    normalised = np.asarray(keras.Model(model.input, model.get_layer("tl_preprocess").output)(images))
    np.testing.assert_allclose(normalised, (images / 255.0 - IMAGENET_MEAN) / IMAGENET_STD, rtol=1e-5, atol=1e-5)
    # Without one, ViT's default: Google's checkpoints scale to [-1, 1].
    plain = build_classifier(model_config("vit", write_checkpoint(tmp_path / "plain", "vit")), 2)
    scaled = np.asarray(keras.Model(plain.input, plain.get_layer("tl_preprocess").output)(images))
    np.testing.assert_allclose(scaled, images / 127.5 - 1.0, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["vit", "deit"])
def test_bare_model_checkpoints_load_through_a_renamed_copy(checkpoints, tmp_path, monkeypatch, family):
    """A bare ViTModel / DeiTModel folder names its tensors without the vit. / deit. prefix keras-hub asks for."""
    from safetensors.numpy import load_file, save_file

    monkeypatch.setenv("KERAS_TL_CACHE", str(tmp_path / "cache"))
    bare = write_checkpoint(tmp_path / "bare", family)
    tensors = load_file(str(bare / "model.safetensors"))
    save_file({name.split(".", 1)[1]: value for name, value in tensors.items()}, str(bare / "model.safetensors"))
    images = raw_images(2)

    def features(folder):
        model = build_classifier(model_config(family, folder, pooling="cls"), 3)
        return np.asarray(keras.Model(model.input, model.get_layer(FEATURES_LAYER).output)(images))

    np.testing.assert_allclose(features(bare), features(checkpoints[family]), rtol=1e-5, atol=1e-5)
    assert [p.name for p in (tmp_path / "cache" / "hf-prefixed").iterdir()][0].startswith("bare-")
    assert sorted(load_file(str(bare / "model.safetensors"))) == sorted(n.split(".", 1)[1] for n in tensors)


def test_keras_hub_preset_folder_loads_like_the_hugging_face_folder(checkpoints, tmp_path):
    """A keras-hub preset folder (what ``save_to_preset`` writes) gives the same model; its image converter's
    scale and offset become the normalisation layer."""
    import keras_hub

    spec = get_backbone("deit")
    backbone = load_backbone(spec, resolve_checkpoint(spec, str(checkpoints["deit"])), 32)
    preset = tmp_path / "deit-preset"
    backbone.save_to_preset(str(preset))
    keras_hub.layers.DeiTImageConverter(image_size=(32, 32), scale=1 / 127.5, offset=-1.0).save_to_preset(str(preset))
    images = raw_images(2)
    hugging_face = build_classifier(model_config("deit", checkpoints["deit"], pooling="cls"), 3)
    keras_format = build_classifier(model_config("deit", preset, pooling="cls"), 3)

    def features(model, pixels):
        return np.asarray(keras.Model(model.input, model.get_layer(FEATURES_LAYER).output)(pixels))

    # Same weights: fed the pixels that give both models the same normalised input, they agree.
    imagenet_pixels = (((images / 127.5 - 1.0) * IMAGENET_STD + IMAGENET_MEAN) * 255.0).astype("float32")
    np.testing.assert_allclose(features(keras_format, images), features(hugging_face, imagenet_pixels),
                               rtol=1e-4, atol=1e-4)
    normalise = keras.Model(keras_format.input, keras_format.get_layer("tl_preprocess").output)
    np.testing.assert_allclose(np.asarray(normalise(images)), images / 127.5 - 1.0, rtol=1e-5, atol=1e-5)


def test_dinov2_register_tokens_are_left_out_of_the_patch_mean(tmp_path):
    folder = write_checkpoint(tmp_path / "registers", "dinov2", registers=4)
    cfg = model_config("dinov2", folder)
    model = build_classifier(cfg, 3)
    spec = get_backbone("dinov2")
    backbone = load_backbone(spec, resolve_checkpoint(spec, str(folder)), 32)
    images = raw_images(2)
    normalised = ((images / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).astype("float32")
    tokens = np.asarray(backbone({"images": normalised}))
    assert tokens.shape[1] == 1 + 4 + 16
    ours = np.asarray(keras.Model(model.input, model.get_layer(FEATURES_LAYER).output)(images))
    np.testing.assert_allclose(ours, tokens[:, 5:].mean(axis=1), rtol=1e-4, atol=1e-4)


def test_imagenet_names_the_entrys_keras_hub_preset(monkeypatch):
    """Without downloading: ``imagenet`` reads the preset's config.json through keras-hub (faked here)."""
    from keras_tl.models import vision_transformer_checkpoint as checkpoints_module

    asked = []

    def fake_json(self, name):
        asked.append((self.preset, name))
        if name != "config.json":
            return None
        return {"class_name": "ViTBackbone", "registered_name": "keras_hub>ViTBackbone",
                "config": {"image_shape": [224, 224, 3], "patch_size": [16, 16]}}

    monkeypatch.setattr(checkpoints_module._PresetFiles, "json", fake_json)
    checkpoint = resolve_checkpoint(get_backbone("vit"), "imagenet")
    assert checkpoint.source == "vit_base_patch16_224_imagenet" and not checkpoint.local
    assert (checkpoint.image_size, checkpoint.patch_size, checkpoint.grid) == (224, 16, 14)
    assert asked[0] == ("vit_base_patch16_224_imagenet", "config.json")
    assert input_size(load_config(model={"backbone": "vit", "weights": "imagenet"}).model) == 224
    with pytest.raises(ModelError) as error:
        resolve_checkpoint(get_backbone("vit"), "vit_tiny_made_up")
    assert "e.g. vit_base_patch16_224_imagenet" in one_line(error)


def test_phase2_boundary_counts_transformer_blocks(checkpoints):
    model = build_classifier(model_config("vit", checkpoints["vit"]), 3)
    freeze_base(model)
    assert not any(layer.trainable for layer in base_layers(model))
    names = lambda layers: [layer.name for layer in layers]  # noqa: E731
    assert names(unfreeze_top(model, None, "vit")) == ["vit_block_0", "vit_block_1", "vit_layernorm"]
    assert names(unfreeze_top(model, 1, "vit")) == ["vit_block_1", "vit_layernorm"]
    assert names(unfreeze_top(model, 0, "vit")) == []
    assert names(unfreeze_top(model, 3, "vit"))[0] == "vit_embedding"  # more blocks than it has: all of it
    assert names(unfreeze_top(model, "vit_block_1", "vit")) == ["vit_block_1", "vit_layernorm"]
    # LayerNorm inside an unfrozen block trains with it.
    assert model.get_layer("vit_block_1").layer_norm_1.trainable


def test_saved_model_loads_back_with_the_same_outputs(checkpoints, tmp_path):
    model = build_classifier(model_config("dinov2", checkpoints["dinov2"], input_size=48), 3)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_trained_model(path)
    images = raw_images(2, 48)
    np.testing.assert_allclose(np.asarray(loaded(images)), np.asarray(model(images)), rtol=1e-5, atol=1e-6)


def test_dinov2_resizes_its_positions_vit_refuses_in_one_line(checkpoints):
    model = build_classifier(model_config("dinov2", checkpoints["dinov2"], input_size=48, pooling="cls"), 3)
    assert model.input_shape == (None, 48, 48, 3)
    spec = get_backbone("dinov2")
    backbone = load_backbone(spec, resolve_checkpoint(spec, str(checkpoints["dinov2"])), 48)  # keras-hub resizes
    images = raw_images(2, 48)
    normalised = ((images / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).astype("float32")
    ours = np.asarray(keras.Model(model.input, model.get_layer(FEATURES_LAYER).output)(images))
    np.testing.assert_allclose(ours, np.asarray(backbone({"images": normalised}))[:, 0], rtol=1e-4, atol=1e-4)
    with pytest.raises(ModelError) as error:
        build_classifier(model_config("dinov2", checkpoints["dinov2"], input_size=44), 3)
    assert "not a multiple of the dinov2 checkpoint's patch size 8px" in one_line(error)
    for family in ("vit", "deit"):
        with pytest.raises(ModelError) as error:
            build_classifier(model_config(family, checkpoints[family], input_size=48), 3)
        assert "leave model.input_size unset or set it to 32" in one_line(error)


def test_bad_folders_and_values_are_one_line(checkpoints, tmp_path):
    cases = {"none": "takes its architecture", str(tmp_path / "missing"): "folder not found",
             str(checkpoints["vit"] / "config.json"): "is a file"}
    for weights, expected in cases.items():
        with pytest.raises(ModelError) as error:
            build_classifier(model_config("vit", weights), 3)
        assert expected in one_line(error)
    with pytest.raises(ModelError) as error:
        build_classifier(model_config("vit", checkpoints["deit"]), 3)
    assert "Hugging Face 'deit' checkpoint, not vit; use model.backbone: deit" in one_line(error)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text(json.dumps({"model_type": "vit", "image_size": 32, "patch_size": 8}))
    with pytest.raises(ModelError) as error:
        build_classifier(model_config("vit", empty), 3)
    assert "no model.safetensors" in one_line(error)
    for family in ("vit", "dinov2"):  # vit's tensor names are read first (hf_prefixed_copy.py), dinov2's are not
        broken = write_checkpoint(tmp_path / f"broken-{family}", family)
        data = (broken / "model.safetensors").read_bytes()
        (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
        with pytest.raises(ModelError) as error:
            build_classifier(model_config(family, broken), 3)
        assert "safetensor" in one_line(error).lower() and str(broken) in one_line(error)
    from safetensors.numpy import load_file, save_file

    incomplete = write_checkpoint(tmp_path / "incomplete", "vit")
    tensors = load_file(str(incomplete / "model.safetensors"))
    del tensors["vit.layernorm.weight"]
    save_file(tensors, str(incomplete / "model.safetensors"))
    with pytest.raises(ModelError) as error:
        build_classifier(model_config("vit", incomplete), 3)
    assert one_line(error).startswith(f"cannot load a vit checkpoint from model.weights {incomplete}")
    assert "vit.layernorm.weight" in one_line(error)
    with pytest.raises(ModelError) as error:
        build_classifier(model_config("mobilenetv2", "none", pooling="cls", input_size=32), 3)
    assert "model.pooling: cls" in one_line(error)


def test_pruning_and_qat_are_refused_before_any_work(checkpoints, tmp_path):
    from keras_tl.export.tfmot.pipeline import refuse_transformer_compression

    for export in ({"prune": 0.5}, {"qat": True}):
        config = load_config(model={"backbone": "deit", "weights": str(checkpoints["deit"])}, export=export)
        with pytest.raises(KerasTLError) as error:
            refuse_transformer_compression(config)
        assert "post-training quantization works" in one_line(error)
    refuse_transformer_compression(load_config(model={"backbone": "deit", "weights": str(checkpoints["deit"])}))


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_trains_both_phases_and_exports_verified_tflite_and_onnx(tmp_path, image_folder, family, capsys):
    """Phase 1 on cached features, phase 2 on the top block, then the ordinary export: fp32 TFLite and ONNX equal
    the Keras model, full-int8 TFLite (uint8 input) is built, run and compared; --prune is refused in one line."""
    import keras_tl
    from keras_tl.cli.main import main
    from keras_tl.export import export_run
    from keras_tl.train import read_history
    from tests.helpers import NO_AUGMENT
    from tests.support.hf_image_checkpoints import transformer_config

    checkpoint = write_checkpoint(tmp_path / "checkpoint", family)
    config = transformer_config(tmp_path / "runs", image_folder, checkpoint, family, name=family, data=NO_AUGMENT,
                                train={"cache_features": "on", "phase2": {"fine_tune_from": 1}})
    logs = []
    run = keras_tl.train_model(config, log=logs.append)
    assert any("on cached features" in line for line in logs), logs
    assert [int(row["phase"]) for row in read_history(run.history_file, 1)] == [1, 2]
    trained, fresh = load_trained_model(run.model_file), build_classifier(config.model, 3)
    changed = {layer.name for layer in base_layers(fresh)
               if any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(),
                                                               trained.get_layer(layer.name).get_weights()))}
    assert changed == {f"{family}_block_1", f"{family}_layernorm"}  # fine_tune_from: 1 block (and the final norm)
    report = export_run(run.path, ["export.quantize=[fp32,int8]", "export.verify_samples=40",
                                   "export.benchmark.runs=2", "export.benchmark.warmup=1"], log=lambda *_: None)
    by_name = {entry["path"].split("/")[-1]: entry for entry in report["artifacts"]}
    assert sorted(by_name) == ["model_fp32.onnx", "model_fp32.tflite", "model_int8.onnx", "model_int8.tflite"]
    for name in ("model_fp32.tflite", "model_fp32.onnx"):
        assert by_name[name]["passed"] and by_name[name]["max_abs_diff"] < 1e-4, by_name[name]
    int8 = by_name["model_int8.tflite"]
    assert int8["status"] in ("passed", "failed") and int8["top1_agreement"] is not None, int8

    if family == "dinov2":  # a fresh process registers the keras-hub layers only on loading such a model
        image = next(p for p in sorted((image_folder / run.labels()[0]).iterdir()))
        done = subprocess.run([sys.executable, "-m", "keras_tl", "predict", str(run.path), str(image), "--top-k", "1"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and any(label in done.stdout for label in run.labels()), done.stderr[-2000:]

    capsys.readouterr()
    assert main(["export", str(run.path), "--prune", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "post-training quantization works" in err, err
