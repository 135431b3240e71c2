"""Where a transformer base comes from (``model.weights``) and what its checkpoint says before any weight is read:
its format, image and patch size, and the input normalisation its weights expect.

``model.weights`` is a local Hugging Face folder (config.json + model.safetensors, converted by keras-hub without
torch), a keras-hub preset folder (config.json + model.weights.h5), ``imagenet`` (the entry's keras-hub preset) or
any keras-hub preset name or URI (both downloaded by keras-hub: they need network).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from keras_tl.errors import ModelError
from keras_tl.models.vision_transformers import TRANSFORMERS, TransformerSpec

HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
KERAS_HUB_WEIGHTS = ("model.weights.h5", "model.weights.json")
HF_PREPROCESSOR = "preprocessor_config.json"
KERAS_HUB_IMAGE_CONVERTER = "image_converter.json"
FOLDER_HINT = ("a Hugging Face checkpoint folder (config.json + model.safetensors), a keras-hub preset folder "
               "(config.json + model.weights.h5), imagenet, or a keras-hub preset name")


@dataclass(frozen=True)
class Checkpoint:
    source: str  # what keras-hub's from_preset reads: a folder or a preset name/URI
    local: bool
    hugging_face: bool
    image_size: int  # the side the position embeddings were trained at
    patch_size: int
    scale: tuple[float, ...]  # the normalisation as raw 0-255 pixels * scale + offset, per RGB channel
    offset: tuple[float, ...]
    layer_norm_epsilon: Optional[float]  # ViT's, which keras-hub's converter leaves at its own default

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size


def resolve_checkpoint(spec: TransformerSpec, weights: str) -> Checkpoint:
    text = (weights or "").strip()
    if text.lower() in ("", "none", "null", "random"):
        raise ModelError(f"model.backbone: {spec.name} takes its architecture (depth, width, patch and image size) "
                         f"from a checkpoint, so model.weights cannot be '{text or 'none'}': use {FOLDER_HINT}")
    preset = spec.imagenet_preset if text.lower() == "imagenet" else text
    path = Path(preset).expanduser()
    if path.is_dir():
        return _read(spec, str(path), _LocalFiles(path), local=True)
    if path.exists():
        raise ModelError(f"model.weights {path} is a file; model.backbone: {spec.name} reads {FOLDER_HINT}")
    if "://" not in preset and ("/" in preset or "\\" in preset or preset.startswith((".", "~"))
                                or preset not in _builtin_presets(spec)):
        raise ModelError(f"model.weights folder not found: {path} (model.backbone: {spec.name} reads {FOLDER_HINT}, "
                         f"e.g. {spec.imagenet_preset})")
    return _read(spec, preset, _PresetFiles(spec, preset), local=False)


def _builtin_presets(spec: TransformerSpec) -> list[str]:
    import keras_hub

    return list(getattr(keras_hub.models, spec.backbone_class).presets)


class _LocalFiles:
    def __init__(self, folder: Path):
        self.folder = folder

    def has(self, *names: str) -> bool:
        return any((self.folder / name).exists() for name in names)

    def json(self, name: str) -> Optional[dict]:
        file = self.folder / name
        if not file.is_file():
            return None
        try:
            value = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelError(f"model.weights {file} is not readable JSON ({str(err).splitlines()[0][:120]})") from None
        if not isinstance(value, dict):
            raise ModelError(f"model.weights {file} holds no JSON object")
        return value


class _PresetFiles:
    def __init__(self, spec: TransformerSpec, preset: str):
        self.spec, self.preset = spec, preset

    def has(self, *names: str) -> bool:
        return True  # keras-hub itself says which file a preset lacks

    def json(self, name: str) -> Optional[dict]:
        from keras_hub.src.utils.preset_utils import check_file_exists, load_json

        try:
            if name != "config.json" and not check_file_exists(self.preset, name):
                return None
            return load_json(self.preset, name)
        except Exception as err:  # noqa: BLE001 - offline downloads and missing presets: one line for the user
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelError(f"could not download the keras-hub preset {self.preset} for model.backbone: "
                             f"{self.spec.name} ({first[:160]}); offline, set model.weights to a local checkpoint "
                             "folder") from None


def _read(spec: TransformerSpec, source: str, files, *, local: bool) -> Checkpoint:
    where = f"model.weights {source}"
    config = files.json("config.json")
    if config is None:
        raise ModelError(f"{where} has no config.json; model.backbone: {spec.name} reads {FOLDER_HINT}")
    hugging_face = "model_type" in config
    try:
        if hugging_face:
            _check_kind(spec, where, config["model_type"], spec.model_types, "a Hugging Face", _by_model_type)
            if not files.has(*HF_WEIGHTS):
                raise ModelError(f"{where} has config.json but no model.safetensors (keras-hub converts Hugging Face "
                                 "folders from safetensors only; PyTorch .bin files are not read)")
            vision = config.get("vision_config", config)  # CLIP-like configs nest the image tower's
            image, patch = int(vision["image_size"]), int(vision["patch_size"])
            epsilon = float(config.get("layer_norm_eps", 1e-12)) if spec.name == "vit" else None
            scale, offset = _hugging_face_normalisation(spec, files.json(HF_PREPROCESSOR))
        elif "registered_name" in config:
            class_name = str(config.get("class_name", config["registered_name"]).split(">")[-1])
            _check_kind(spec, where, class_name, (spec.backbone_class,), "a keras-hub", _by_class)
            if not files.has(*KERAS_HUB_WEIGHTS):
                raise ModelError(f"{where} has config.json but no model.weights.h5 (a keras-hub preset folder "
                                 "holds both)")
            args = config["config"]
            args = args.get("vision_encoder", {}).get("config", args)  # CLIP-like backbones nest their image tower
            image, patch = int(args["image_shape"][0]), args["patch_size"]
            patch = int(patch[0] if isinstance(patch, (list, tuple)) else patch)
            epsilon = None
            scale, offset = _keras_hub_normalisation(spec, files.json(KERAS_HUB_IMAGE_CONVERTER))
        else:
            raise ModelError(f"{where}: config.json is neither a Hugging Face nor a keras-hub config (it has no "
                             "model_type or registered_name)")
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ModelError(f"{where}: its config lacks a readable {err} for a {spec.name} checkpoint") from None
    if patch <= 0 or image % patch:
        raise ModelError(f"{where}: image size {image} is not a multiple of the patch size {patch}")
    return Checkpoint(source, local, hugging_face, image, patch, scale, offset, epsilon)


def _by_model_type(value: str) -> Optional[TransformerSpec]:
    return next((s for s in TRANSFORMERS.values() if value in s.model_types), None)


def _by_class(value: str) -> Optional[TransformerSpec]:
    return next((s for s in TRANSFORMERS.values() if s.backbone_class == value), None)


def _check_kind(spec, where, value, accepted, kind, lookup) -> None:
    if value in accepted:
        return
    other = lookup(value)
    hint = (f"; use model.backbone: {other.name}" if other
            else f" (model.backbone: {spec.name} reads {', '.join(accepted)})")
    raise ModelError(f"{where} is {kind} '{value}' checkpoint, not {spec.name}{hint}")


def _from_mean_std(mean, std, rescale: float = 1 / 255) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(rescale / s for s in std), tuple(-m / s for m, s in zip(mean, std))


def _hugging_face_normalisation(spec: TransformerSpec, processor: Optional[dict]):
    """The folder's image processor decides (what the checkpoint was trained with); the entry's default if none."""
    if processor is None:
        return _from_mean_std(spec.mean, spec.std)
    rescale = float(processor.get("rescale_factor", 1 / 255)) if processor.get("do_rescale", True) else 1.0
    if not processor.get("do_normalize", True):
        return _from_mean_std((0.0,) * 3, (1.0,) * 3, rescale)
    return _from_mean_std(_per_channel(processor.get("image_mean", spec.mean)),
                          _per_channel(processor.get("image_std", spec.std)), rescale)


def _keras_hub_normalisation(spec: TransformerSpec, converter: Optional[dict]):
    """keras-hub's image converter computes pixels * scale + offset on raw 0-255 pixels, as our layer does."""
    args = (converter or {}).get("config", {})
    if not converter or ("scale" not in args and "offset" not in args):
        return _from_mean_std(spec.mean, spec.std)
    scale = args.get("scale") if args.get("scale") is not None else 1.0
    offset = args.get("offset") if args.get("offset") is not None else 0.0
    return _per_channel(scale), _per_channel(offset)


def _per_channel(value) -> tuple[float, ...]:
    values = [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)]
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        raise ValueError("per-channel normalisation (3 values)")
    return tuple(values)
