"""Training on several devices or hosts with TensorFlow's own tf.distribute strategies.

``data.batch_size`` is the batch of ONE replica: with N replicas each step sees N x batch_size images, and the
learning rates of both phases are scaled by ``train.lr_scaling`` (linear: x N, the rule of Goyal et al. 2017;
sqrt: x sqrt(N); none). One process (mirrored, tpu) or the chief of a multi-worker cluster writes the run folder;
every other worker writes its callbacks' files to a private scratch folder, as the Keras multi-worker guide does.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from keras_tl.config.schema import ExperimentConfig, TrainConfig
from keras_tl.errors import KerasTLError
from keras_tl.run import RunFolder


class DistributionError(KerasTLError):
    pass


@dataclass
class Placement:
    """Where this process trains: its strategy, and whether it is the one that writes the run folder."""

    strategy: tf.distribute.Strategy
    kind: str
    is_chief: bool = True
    task: str = "chief"

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    @property
    def multi_worker(self) -> bool:
        return self.kind == "multi_worker"


def place(train: TrainConfig) -> Placement:
    """Create the strategy that train.distribution names. Call it before TensorFlow runs any op: the
    multi-worker strategy configures collective ops, which TensorFlow allows only at program start."""
    kind = train.distribution
    if kind == "none":
        return Placement(tf.distribute.get_strategy(), kind)
    if kind == "mirrored":
        # Without GPUs, MirroredStrategy would take one CPU device; logical CPU devices (if configured) all count.
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return Placement(tf.distribute.MirroredStrategy([d.name for d in devices]), kind)
    if kind == "tpu":
        return Placement(_tpu_strategy(train.tpu), kind)
    return _multi_worker()


def _multi_worker() -> Placement:
    cluster = _tf_config()
    task = cluster.get("task", {})
    task_type, task_id = task.get("type"), int(task.get("index", 0))
    if task_type not in ("chief", "worker"):
        raise DistributionError(f"TF_CONFIG task type must be 'chief' or 'worker' for multi_worker, got {task_type!r}")
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as err:
        raise DistributionError(f"cannot start multi-worker training ({str(err).splitlines()[0]}): the strategy must "
                                "be created before TensorFlow runs anything in this process") from None
    has_chief = bool(cluster.get("cluster", {}).get("chief"))
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return Placement(strategy, "multi_worker", is_chief=chief, task=f"{task_type}{task_id}")


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        raise DistributionError("train.distribution=multi_worker needs the TF_CONFIG environment variable (the "
                                "cluster's worker addresses and this worker's index) on every worker")
    try:
        cluster = json.loads(raw)
    except json.JSONDecodeError as err:
        raise DistributionError(f"TF_CONFIG is not valid JSON ({err.msg})") from None
    if not isinstance(cluster, dict) or not cluster.get("cluster"):
        raise DistributionError('TF_CONFIG must hold {"cluster": {"worker": [...]}, "task": {...}}')
    return cluster


def _tpu_strategy(address: str) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except Exception as err:  # noqa: BLE001 - no TPU, a wrong name, missing credentials: all one line for the user
        first = str(err).strip().splitlines()[0].split(". ")[0] if str(err).strip() else type(err).__name__
        raise DistributionError(f"cannot use TPU '{address}' (train.tpu): {first[:200]}") from None


def lr_factor(train: TrainConfig, replicas: int) -> float:
    return {"linear": float(replicas), "sqrt": math.sqrt(replicas), "none": 1.0}[train.lr_scaling]


def scaled_for_replicas(config: ExperimentConfig, replicas: int) -> ExperimentConfig:
    """The config the trainer sees: global batch = per-replica batch x replicas, learning rates scaled to match."""
    if replicas == 1:
        return config
    factor = lr_factor(config.train, replicas)
    train = config.train
    return config.model_copy(update={
        "data": config.data.model_copy(update={"batch_size": config.data.batch_size * replicas}),
        "train": train.model_copy(update={
            "phase1": train.phase1.model_copy(update={"learning_rate": train.phase1.learning_rate * factor}),
            "phase2": train.phase2.model_copy(update={"learning_rate": train.phase2.learning_rate * factor}),
        }),
    })


def worker_scratch(run: RunFolder, task: str, *, fresh: bool) -> RunFolder:
    """A non-chief worker's private stand-in for the run folder, in the temp dir.

    It starts from the chief's resume state (checkpoints and history), so that every worker restores the same
    epoch and the same best weights: this needs the run folder on storage that every worker sees, as
    BackupAndRestore in multi-worker training always has. The scratch folder's own config, scan and splits are
    kept (the chief rewrites its config.yaml while the workers start, so that file is never copied)."""
    digest = hashlib.sha1(str(run.path.resolve()).encode("utf-8")).hexdigest()[:12]
    scratch = RunFolder(Path(tempfile.gettempdir()) / f"keras_tl-worker-{run.path.name}-{digest}-{task}")
    if fresh or not _has_resume_state(run):
        shutil.rmtree(scratch.path, ignore_errors=True)
        return scratch
    scratch.ensure()
    shutil.rmtree(scratch.checkpoints_dir, ignore_errors=True)
    if run.checkpoints_dir.is_dir():
        shutil.copytree(run.checkpoints_dir, scratch.checkpoints_dir)
    scratch.history_file.unlink(missing_ok=True)
    if run.history_file.is_file():
        shutil.copyfile(run.history_file, scratch.history_file)
    return scratch


def _has_resume_state(run: RunFolder) -> bool:
    # The chief writes these only after an epoch that every worker took part in, never while workers start.
    return run.history_file.is_file() or (run.checkpoints_dir.is_dir() and any(run.checkpoints_dir.iterdir()))
