"""Build one artifact file (format x precision) of a run's model, with its labels embedded."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from keras_tl.export import litert_quantizer, onnx_export, tflite
from keras_tl.export.artifacts import ArtifactSpec
from keras_tl.export.errors import ExportError, UnsupportedOpsError, first_line
from keras_tl.export.inputs import RunInputs
from keras_tl.export.metadata import attach_metadata
from keras_tl.export.float_scope import FloatScope, layers_pattern
from keras_tl.export.text_tower import float_scope
from keras_tl import __version__
from keras_tl.quiet import silenced_stderr
from keras_tl.config.schema import ExportConfig
from keras_tl.models import IMAGE_INPUT, text_encoder_family
from keras_tl.text_checkpoint import TEXT_FAMILIES

PRODUCER = f"keras_tl {__version__}"


class ArtifactBuilder:
    """Converts lazily and once: the SavedModel behind every TFLite variant, the fp32 ONNX behind the int8 one."""

    def __init__(self, inputs: RunInputs, config: ExportConfig, work: Path):
        self.inputs = inputs
        self.config = config
        self.work = work
        self._saved_model: Optional[Path] = None
        self._onnx_fp32: Optional[Path] = None
        self._fp32_tflite: Optional[bytes] = None
        self._litert_int8: Optional[litert_quantizer.Int8Quantizer] = None
        self.onnx_route: Optional[str] = None  # how tf2onnx converted the model: "keras" or "saved_model"
        self._unsupported: Optional[UnsupportedOpsError] = None
        # precision -> (SavedModel, precision to convert it at): artifacts of another model (QAT), same converter
        self.other_sources: dict[str, tuple[Path, str]] = {}

    def build(self, spec: ArtifactSpec, out: Path, granularity: str = "per_channel") -> dict:
        """Write the artifact to ``out``; returns the settings it was built with (for the report)."""
        if spec.format == "tflite":
            return self._tflite(spec.precision, out, granularity)
        return self._onnx(spec.precision, out)

    def _tflite(self, precision: str, out: Path, granularity: str) -> dict:
        if self._unsupported is not None:
            raise self._unsupported  # the same ops fail every variant; converting again would only cost time
        cfg = self.config
        other_model = self.other_sources.get(precision)  # QAT's SavedModel: converted by TFLiteConverter
        saved_model, precision = other_model or (self.saved_model(), precision)
        representative = lambda: self.inputs.representative(cfg.representative_samples)  # noqa: E731
        keep_float = self._text_tower_kept_float(precision)
        by_litert = precision == "int8" and other_model is None and not self.inputs.takes_text \
            and cfg.int8_quantizer == "litert"  # LiteRT Quantizer has no mixed text-tower scheme yet
        try:
            if by_litert:
                model = self.litert_int8().quantize(granularity, image_input=IMAGE_INPUT,
                                                    int8_image_input=cfg.int8_image_input,
                                                    float_layers=cfg.int8_float_layers)
            elif keep_float is not None:
                model = tflite.convert_int8_keeping_float(saved_model, representative, keep_float,
                                                          granularity=granularity)
            elif precision == "fp32" and other_model is None:
                model = self.fp32_tflite()
            else:
                model = tflite.convert(saved_model, precision, image_input=IMAGE_INPUT,
                                       representative=representative, int8_image_input=cfg.int8_image_input,
                                       granularity=granularity, allow_flex_ops=cfg.allow_flex_ops)
        except UnsupportedOpsError as err:
            self._unsupported = err
            raise
        out.write_bytes(attach_metadata(
            model, self.inputs.labels, image_input=IMAGE_INPUT, image_size=self.inputs.image_size,
            name=self.inputs.run.path.name, version=__version__, description=self._description()))
        if precision != "int8":
            return {}
        details = {"quantizer": litert_quantizer.RECIPE_NAME if by_litert else "TFLiteConverter post-training",
                   "granularity": granularity, "output": "float32",
                   "representative_samples": self.inputs.representative_count(cfg.representative_samples),
                   "image_input": tflite.image_input_type(model, IMAGE_INPUT)}
        if by_litert:
            details["float_layers"] = list(cfg.int8_float_layers)
        if self.inputs.takes_text:
            details["text_tower"] = cfg.int8_text_tower
        return details

    def _onnx(self, precision: str, out: Path) -> dict:
        cfg = self.config
        fp32 = self.onnx_fp32()
        details = {"opset": cfg.opset, "route": self.onnx_route}
        if precision == "fp32":
            shutil.copyfile(fp32, out)
            return details
        keep_float = self._text_tower_kept_float(precision) or self._layers_kept_float()
        count = cfg.representative_samples
        kept = onnx_export.quantize(fp32, out, self.inputs.representative(count),
                                    samples=self.inputs.representative_count(count), labels=self.inputs.labels,
                                    producer=PRODUCER, scratch=self.work,
                                    quant_format=cfg.onnx_quant_format, keep_float=keep_float,
                                    calibrate=cfg.onnx_calibration, percentile=cfg.onnx_calibration_percentile)
        details = {**details, "quant_format": cfg.onnx_quant_format, "per_channel": True,
                   "calibration": cfg.onnx_calibration}
        if cfg.onnx_calibration == "percentile":
            details["calibration_percentile"] = cfg.onnx_calibration_percentile
        if self.inputs.takes_text:
            details.update(text_tower=self.config.int8_text_tower, float_nodes=kept)
        elif cfg.int8_float_layers:
            if not kept:
                raise ExportError(f"export.int8_float_layers: no node of the ONNX model comes from the layers "
                                  f"{', '.join(cfg.int8_float_layers)}")
            details.update(float_layers=list(cfg.int8_float_layers), float_nodes=kept)
        return details

    def _layers_kept_float(self) -> Optional[FloatScope]:
        layers = self.config.int8_float_layers
        return FloatScope(layers_pattern(layers), by_weight_names=True) if layers else None

    def _text_tower_kept_float(self, precision: str) -> Optional[FloatScope]:
        """What of the text tower this int8 artifact keeps float (export.int8_text_tower), or None."""
        return float_scope(self.inputs.model, self.config.int8_text_tower) if precision == "int8" else None

    def _description(self) -> str:
        what = {(True, False): "image", (True, True): "image+text", (False, True): "text"}[
            (self.inputs.takes_image, self.inputs.takes_text)]
        family = TEXT_FAMILIES.get(text_encoder_family(self.inputs.model))
        backbone = self.inputs.config.model.backbone if self.inputs.takes_image else (
            family.title if family else "text encoder")
        return f"{backbone} {what} classifier ({len(self.inputs.labels)} classes), trained with keras_tl"

    def fp32_tflite(self) -> bytes:
        """The run model's fp32 TFLite file (without metadata): the fp32 artifact and LiteRT Quantizer's input."""
        if self._fp32_tflite is None:
            self._fp32_tflite = tflite.convert(self.saved_model(), "fp32", allow_flex_ops=self.config.allow_flex_ops)
        return self._fp32_tflite

    def litert_int8(self) -> litert_quantizer.Int8Quantizer:
        if self._litert_int8 is None:
            self._litert_int8 = litert_quantizer.Int8Quantizer(
                self.fp32_tflite(), self.inputs.representative(self.config.representative_samples))
        return self._litert_int8

    def saved_model(self) -> Path:
        if self._saved_model is None:
            path = self.work / "saved_model"
            try:
                with silenced_stderr():
                    self.inputs.model.export(str(path), format="tf_saved_model", verbose=False)
            except Exception as err:  # noqa: BLE001 - tracing errors of custom layers become one line
                raise ExportError(f"cannot save the model as a SavedModel for TFLite: {first_line(err)}") from None
            self._saved_model = path
        return self._saved_model

    def onnx_fp32(self) -> Path:
        if self._onnx_fp32 is None:
            path = self.work / "model_fp32.onnx"
            self.onnx_route = onnx_export.convert(self.inputs.model, path, opset=self.config.opset,
                                                  labels=self.inputs.labels, producer=PRODUCER,
                                                  saved_model=self.saved_model)
            self._onnx_fp32 = path
        return self._onnx_fp32
