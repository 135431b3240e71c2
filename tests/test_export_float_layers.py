"""export.int8_float_layers: the named layers' ops stay float in both int8 files; the rest stays int8."""

import json

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from keras_tl.cli.main import main
from tests.export_helpers import op_types

INT8_ONLY = ["--formats", "tflite,onnx", "--quantize", "int8", "-o", "export.benchmark.runs=1",
             "-o", "export.keep_failed=true", "-o", "export.int8_granularity=per_channel"]


def artifacts(run) -> dict:
    report = json.loads((run.export_dir / "export_report.json").read_text())
    return {a["format"]: a for a in report["artifacts"] if a["precision"] == "int8"}


def test_the_first_convolution_stays_float_behind_the_uint8_input(copy_run, capsys):
    code = main(["export", str(copy_run.path), *INT8_ONLY, "-o", "export.int8_float_layers=[Conv1]"])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    built = artifacts(copy_run)
    assert built["tflite"]["details"]["float_layers"] == ["Conv1"]
    assert built["onnx"]["details"]["float_layers"] == ["Conv1"] and built["onnx"]["details"]["float_nodes"] >= 1
    content = (copy_run.path / built["tflite"]["path"]).read_bytes()
    types = op_types(content)
    assert types["CONV_2D"] == {schema.TensorType.FLOAT32, schema.TensorType.INT8}  # Conv1 float, the rest int8
    assert types["DEPTHWISE_CONV_2D"] == {schema.TensorType.INT8}
    assert "DEQUANTIZE" in types  # uint8 pixels -> float32 for Conv1
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    graph = model.subgraphs[0]
    assert graph.tensors[int(graph.inputs[0])].type == schema.TensorType.UINT8
    assert built["tflite"]["top1_agreement"] is not None and np.isfinite(built["tflite"]["top1_agreement"])


def test_a_layer_the_model_lacks_is_one_line_per_file(copy_run, capsys):
    code = main(["export", str(copy_run.path), *INT8_ONLY, "-o", "export.int8_float_layers=[conv_1]"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert ("model_int8.tflite: error: export.int8_float_layers: the model has no layer 'conv_1' with ops to keep "
            "float") in out
    assert "model_int8.onnx: error: export.int8_float_layers: no node of the ONNX model comes from the layers " \
           "conv_1" in out
