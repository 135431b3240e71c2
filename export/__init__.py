"""Export a trained keras_tl run to files phones and edge boards run, each verified against the Keras model.

TFLite (float32, float16, dynamic-range int8, full int8 with uint8 image input) with metadata that MediaPipe Tasks
reads, ONNX (float32, statically quantized int8), parity verification with each artifact's own runtime, and a
benchmark of them all. Public entry points::

    from keras_tl.export import export_run, benchmark_run, predictor_for
    report = export_run("runs/quickstart")           # -> the export_report.json contents
    predictor = predictor_for("runs/quickstart/export/model_int8.tflite")

This package reads keras_tl only through its public modules and the run folder (docs/architecture.md).
"""

from keras_tl.export.api import benchmark_run, export_run, load_run_config
from keras_tl.export.runtimes import predictor_for

__all__ = ["benchmark_run", "export_run", "load_run_config", "predictor_for"]
