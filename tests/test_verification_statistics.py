"""Verification decides on evidence: agreement carries a 95 % interval, a faithful artifact is not withheld for one
flip in a small sample, an unfaithful one is still caught, and agreement is measured on every split of the run."""

import numpy as np
import pytest

from keras_tl.export.verify import compare

LABELS = ["a", "b", "c"]


def outputs_agreeing(samples: int, flips: int, seed: int = 0):
    """Keras-like reference probabilities, and an artifact's that pick another class on ``flips`` images."""
    rng = np.random.default_rng(seed)
    reference = rng.dirichlet(np.ones(3), size=samples).astype("float32")
    artifact = reference.copy()
    flipped = rng.choice(samples, flips, replace=False)
    artifact[flipped] = np.roll(artifact[flipped], 1, axis=1)
    artifact[flipped] += np.eye(3, dtype="float32")[(reference[flipped].argmax(1) + 1) % 3]  # decisively another
    targets = reference.argmax(axis=1)
    return artifact, reference, targets


def decide(samples: int, flips: int, threshold: float = 0.97):
    artifact, reference, targets = outputs_agreeing(samples, flips)
    return compare(artifact, reference, targets, LABELS, multi_label=False, threshold=threshold)


def test_one_flip_in_18_images_is_no_evidence_against_a_faithful_artifact():
    verification = decide(18, 1)
    assert verification.top1_agreement == pytest.approx(17 / 18)
    low, high = verification.agreement_interval
    assert low < 17 / 18 < high and high >= 0.97
    assert verification.passed


@pytest.mark.parametrize("samples, flips", [(1000, 50), (500, 40), (2000, 80)])
def test_an_unfaithful_artifact_is_caught_on_enough_images(samples, flips):
    verification = decide(samples, flips)
    assert verification.agreement_interval[1] < 0.97
    assert not verification.passed


def test_a_faithful_artifact_passes_on_many_images():
    verification = decide(2000, 30)  # 0.985
    assert verification.passed and verification.agreement_interval[0] > 0.97


def test_small_samples_still_catch_a_broken_artifact():
    verification = decide(18, 6)  # two thirds agree
    assert not verification.passed


def test_accuracy_is_measured_on_the_labelled_rows_only():
    artifact, reference, targets = outputs_agreeing(100, 0)
    wrong = targets.copy()
    wrong[40:] = (wrong[40:] + 1) % 3  # the rows after the labelled split carry no meaningful label
    verification = compare(artifact, reference, wrong, LABELS, multi_label=False, threshold=0.97, accuracy_rows=40)
    assert verification.accuracy == 1.0 and verification.samples == 100


def test_non_finite_outputs_fail():
    artifact, reference, targets = outputs_agreeing(50, 0)
    artifact[3, 1] = np.nan
    assert not compare(artifact, reference, targets, LABELS, multi_label=False, threshold=0.5).passed


@pytest.mark.slow
def test_export_verifies_on_every_split(exported_run):
    from keras_tl.export.inputs import RunInputs

    run, report = exported_run
    inputs = RunInputs(run, run.config())
    splits = inputs.data.splits
    assert inputs.verify_count == sum(len(splits[name]) for name in ("train", "val", "test"))
    assert inputs.accuracy_rows == len(splits["test"])
    assert inputs.data.splits["verify"][: len(splits["test"])] == splits["test"]
    for entry in report["artifacts"]:
        if entry.get("status") in ("passed", "failed"):
            assert entry["verified_samples"] == inputs.verify_count
            low, high = entry["agreement_interval"]
            assert low <= entry["top1_agreement"] <= high
