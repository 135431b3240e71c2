"""`keras-tl export --prune --qat` end to end through the CLI: the pruned model's artifacts and the QAT int8 file,
each verified, recorded in export_report.json, and measured again by `keras-tl benchmark`."""

import json

import numpy as np
import pytest

from keras_tl.cli.main import main
from keras_tl.models import load_trained_model

# 15 test images: one flipped near-tie of the briefly pruned model is 0.067 of agreement (the QAT file's
# agreement with its QAT Keras model is held to 0.98 on more images in test_tfmot_prune_qat).
QUICK = ["-o", "export.benchmark.runs=3", "-o", "export.benchmark.warmup=1",
         "-o", "export.thresholds.int8_agreement=0.85"]


@pytest.mark.slow
def test_export_prunes_and_adds_a_verified_qat_int8_artifact(copy_run, capsys):
    for stale in copy_run.export_dir.glob("model_*"):
        stale.unlink()  # files not rebuilt here would only be re-verified (and retired) against the pruned model
    args = ["export", str(copy_run.path), "--prune", "0.5", "--qat", "--formats", "tflite", "--quantize", "fp32",
            "-o", "export.prune_epochs=2", "-o", "export.prune_learning_rate=1e-3", "-o", "export.qat_epochs=1",
            *QUICK]

    assert main(args) == 0
    report = json.loads((copy_run.export_dir / "export_report.json").read_text())
    names = [a["path"] for a in report["artifacts"]]
    assert names == ["export/model_fp32.tflite", "export/model_qat_int8.tflite"] and report["all_passed"]
    assert report["keras"]["path"] == "export/model_pruned.keras"  # the reference every artifact is verified on

    prune = report["compression"]["prune"]
    for kind in ("Conv2D", "DepthwiseConv2D", "Dense", "all"):
        assert abs(prune["sparsity"][kind]["sparsity"] - 0.5) <= 0.02, kind
    assert prune["gzip_ratio_fp32_tflite"] <= 0.65
    gzip_bytes = report["compression"]["gzip_bytes"]
    assert gzip_bytes["model_fp32.tflite"] / prune["unpruned_fp32_tflite_gzip_bytes"] == pytest.approx(
        prune["gzip_ratio_fp32_tflite"], abs=1e-4)

    qat = report["compression"]["qat"]
    qat_entry = next(a for a in report["artifacts"] if a["path"] == "export/model_qat_int8.tflite")
    assert qat["sparsity_preserving"] and qat["agreement_with_qat_keras"] == qat_entry["top1_agreement"] >= 0.85
    assert qat_entry["details"]["image_input"] == "uint8"
    assert 0 <= qat_entry["details"]["agreement_with_keras"] == qat["agreement_with_keras"] <= 1

    pruned = load_trained_model(copy_run.export_dir / "model_pruned.keras")
    kernels = [layer.get_weights()[0] for layer in pruned.layers if type(layer).__name__ == "Conv2D"]
    assert abs(np.mean(np.concatenate([k.ravel() for k in kernels]) == 0) - 0.5) <= 0.02
    capsys.readouterr()

    assert main(["benchmark", str(copy_run.path), *QUICK]) == 0
    again = json.loads((copy_run.export_dir / "export_report.json").read_text())
    assert again["command"] == "benchmark" and again["keras"]["path"] == "export/model_pruned.keras"
    assert [a["path"] for a in again["artifacts"]] == names and again["all_passed"]
    assert again["compression"] == report["compression"]
    again_qat = next(a for a in again["artifacts"] if a["path"] == "export/model_qat_int8.tflite")
    assert again_qat["top1_agreement"] == qat_entry["top1_agreement"]  # still against its QAT Keras model

    # Exit status aside (the pruned int8 files are re-verified against the unpruned model and may be retired):
    main(["export", str(copy_run.path), "--formats", "tflite", "--quantize", "fp32", *QUICK])
    plain = json.loads((copy_run.export_dir / "export_report.json").read_text())
    assert "compression" not in plain and plain["keras"]["path"] == "model.keras"
    assert next(a for a in plain["artifacts"] if a["path"] == "export/model_fp32.tflite")["passed"]
    assert not (copy_run.export_dir / "model_pruned.keras").exists()
