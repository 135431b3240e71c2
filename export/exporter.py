"""Export one run: build each artifact under a staged name, verify it with its own runtime, then publish it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from keras_tl.export.artifacts import ArtifactSpec, discard, publish, sha256, staged_path
from keras_tl.export.benchmark import KERAS_RUNTIME, keras_predict, latency_ms
from keras_tl.export.build import ArtifactBuilder
from keras_tl.export.errors import first_line
from keras_tl.export.inputs import RunInputs
from keras_tl.export.report import ERROR, FAILED, PASSED, REFERENCE, ArtifactEntry
from keras_tl.export.runtimes import artifact_outputs, open_artifact
from keras_tl.export.verify import Verification, compare, predict_all, threshold_for
from keras_tl.config.schema import ExportConfig
from keras_tl.errors import KerasTLError


class Exporter:
    def __init__(self, inputs: RunInputs, config: ExportConfig, work: Optional[Path], *,
                 log: Callable[[str], None] = print):
        """``work``: a scratch folder for intermediate files; only needed to build artifacts."""
        self.inputs = inputs
        self.config = config
        self.log = log
        self.builder = ArtifactBuilder(inputs, config, work)
        self.keras = keras_predict(inputs.model)
        self.reference = predict_all(self.keras, inputs.batches("Keras reference"))
        # precision -> outputs of the model an artifact was converted from, when that is not inputs.model (QAT)
        self.references: dict[str, np.ndarray] = {}
        self.targets = inputs.targets()
        self.export_dir = inputs.run.export_dir

    # -- one artifact -------------------------------------------------------------------------------------------
    def export(self, spec: ArtifactSpec) -> ArtifactEntry:
        """Build, verify and publish ``spec``; a build error becomes an entry with status "error"."""
        final = self.export_dir / spec.filename
        staged = staged_path(final)
        started = time.perf_counter()
        attempts: dict[str, dict] = {}
        try:
            for granularity in self._granularities(spec):
                details = self.builder.build(spec, staged, granularity)
                verification = self.verify(spec, staged)
                attempts[granularity] = {"top1_agreement": verification.top1_agreement,
                                         "size_bytes": staged.stat().st_size}
                if verification.passed:
                    break
        except KerasTLError as err:
            discard(final)
            self.log(f"{spec.filename}: error: {err}")
            return ArtifactEntry(format=spec.format, precision=spec.precision, runtime=spec.runtime, status=ERROR,
                                 passed=False, error=str(err))
        if len(attempts) > 1:
            details["attempts"] = attempts  # why the int8 file is per-channel (bigger) when it is
        details["seconds"] = round(time.perf_counter() - started, 2)
        return self.publish(spec, staged, verification, details)

    def verify(self, spec: ArtifactSpec, path: Path) -> Verification:
        """Run the file over the verification split as a device runs it (keras_tl.edge) and compare it with the
        Keras model."""
        threshold = threshold_for(spec, self.config.thresholds)
        try:
            probs = artifact_outputs(path, spec.format, self.inputs.batches(f"verifying {spec.filename}"),
                                     self.config.benchmark.threads)
        except Exception as err:  # noqa: BLE001 - a file its runtime cannot run fails verification, with the reason
            return Verification.unrunnable(f"{spec.runtime} could not run it: {first_line(err)}", threshold)
        reference = self.references.get(spec.precision, self.reference)
        return compare(probs, reference, self.targets, self.inputs.labels, multi_label=self.inputs.multi_label,
                       threshold=threshold, accuracy_rows=self.inputs.accuracy_rows)

    def publish(self, spec: ArtifactSpec, staged: Path, verification: Verification,
                details: Optional[dict] = None) -> ArtifactEntry:
        """Move a verified file to its final name (a failed one to nothing, or ``.failed``) and describe it."""
        size, digest = staged.stat().st_size, sha256(staged)
        final = self.export_dir / spec.filename
        kept = publish(staged, final, passed=verification.passed, keep_failed=self.config.keep_failed)
        where = "" if verification.passed else f"; kept as {kept.name}" if kept else "; not kept"
        self.log(f"{spec.filename}: {PASSED if verification.passed else FAILED}: {verification.summary()}{where}")
        return self.describe(spec, kept, verification, details, size=size, digest=digest)

    def describe(self, spec: ArtifactSpec, path: Optional[Path], verification: Verification,
                 details: Optional[dict] = None, *, size: Optional[int] = None,
                 digest: Optional[str] = None) -> ArtifactEntry:
        """The report entry of an artifact; ``path`` is where it is now (None when it was not kept)."""
        if path is not None and size is None:
            size, digest = path.stat().st_size, sha256(path)
        return ArtifactEntry(
            format=spec.format, precision=spec.precision, runtime=spec.runtime,
            status=PASSED if verification.passed else FAILED, path=self._relative(path), size_bytes=size,
            sha256=digest, accuracy=verification.accuracy,
            top1_agreement=verification.top1_agreement, agreement_interval=verification.agreement_interval,
            verified_samples=verification.samples, max_abs_diff=verification.max_abs_diff,
            threshold=verification.threshold, passed=verification.passed, details=details or {},
            error=verification.error)

    def _granularities(self, spec: ArtifactSpec) -> list[str]:
        if spec.format != "tflite" or spec.precision != "int8":
            return ["per_channel"]
        if self.config.int8_granularity == "auto":
            return ["per_tensor", "per_channel"]  # smallest file first; per-channel when that one is not faithful
        return [self.config.int8_granularity]

    # -- the Keras reference and latency -------------------------------------------------------------------------
    def keras_result(self) -> ArtifactEntry:
        model_file = self.inputs.model_file
        accuracy = compare(self.reference, self.reference, self.targets, self.inputs.labels,
                           multi_label=self.inputs.multi_label, threshold=0.0,
                           accuracy_rows=self.inputs.accuracy_rows).accuracy
        return ArtifactEntry(format="keras", precision="fp32", runtime=KERAS_RUNTIME, status=REFERENCE,
                             path=self._relative(model_file), size_bytes=model_file.stat().st_size,
                             sha256=sha256(model_file), accuracy=accuracy, top1_agreement=1.0, max_abs_diff=0.0,
                             passed=True)

    def measure_latency(self, keras: ArtifactEntry, results: list[ArtifactEntry]) -> None:
        """p50/p90 at batch 1 of the Keras model and of every artifact file that was kept."""
        sample = self.inputs.sample()
        settings = self.config.benchmark
        self.log(f"measuring latency: batch 1, {settings.warmup} warm-up + {settings.runs} runs, "
                 f"{settings.threads} threads")
        keras.latency_ms_p50, keras.latency_ms_p90 = latency_ms(self.keras, sample, settings)
        for result in results:
            if result.path:
                model = open_artifact(self.inputs.run.path / result.path, result.format, settings.threads)
                result.latency_ms_p50, result.latency_ms_p90 = latency_ms(model.run, sample, settings)

    def _relative(self, path: Optional[Path]) -> Optional[str]:
        return None if path is None else path.relative_to(self.inputs.run.path).as_posix()


def agreement_summary(results: list[ArtifactEntry]) -> str:
    passed = [r for r in results if r.passed]
    line = f"{len(passed)} of {len(results)} artifacts passed verification"
    problems = [f"{r.name} ({r.status})" for r in results if not r.passed]
    return line + (f"; not passed: {', '.join(problems)}" if problems else "")


def size_ratio(results: list[ArtifactEntry], precision: str, fmt: str = "tflite") -> Optional[float]:
    sizes = {r.precision: r.size_bytes for r in results if r.format == fmt and r.size_bytes}
    return sizes[precision] / sizes["fp32"] if precision in sizes and "fp32" in sizes else None

