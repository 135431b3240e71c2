"""Runs inside the MediaPipe venv (see mediapipe_venv.py), never in the project's environment.

argv: a JSON list of .tflite files and a JSON list of images. For each model, MediaPipe Tasks' ImageClassifier
classifies every image, and MediaPipe's own generated readers of the TFLite and metadata schemas report what
the file says about itself. Prints one JSON object on the last line.
"""

import json
import sys

import mediapipe as mp
from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
from mediapipe.tasks.metadata import schema_py_generated as tfl
from mediapipe.tasks.python import vision
from mediapipe.tasks.python.core import base_options


def read_metadata(path):
    data = open(path, "rb").read()
    model = tfl.Model.GetRootAs(data, 0)
    entries = {model.Metadata(i).Name(): model.Metadata(i).Buffer() for i in range(model.MetadataLength())}
    buffer = model.Buffers(entries[b"TFLITE_METADATA"]).DataAsNumpy().tobytes()
    assert meta.ModelMetadata.ModelMetadataBufferHasIdentifier(buffer, 0)
    root = meta.ModelMetadata.GetRootAs(buffer, 0)
    graph = root.SubgraphMetadata(0)
    image = graph.InputTensorMetadata(0)
    units = image.ProcessUnits(0)
    normalization = meta.NormalizationOptions()
    normalization.Init(units.Options().Bytes, units.Options().Pos)
    properties = meta.ImageProperties()
    content = image.Content().ContentProperties()
    properties.Init(content.Bytes, content.Pos)
    output = graph.OutputTensorMetadata(0)
    labels_file = output.AssociatedFiles(0)
    tensor = model.Subgraphs(0).Tensors(model.Subgraphs(0).Inputs(0))
    quantization = tensor.Quantization()
    return {
        "name": root.Name().decode(),
        "min_parser_version": root.MinParserVersion().decode(),
        "input_name": image.Name().decode(),
        "content_type": image.Content().ContentPropertiesType(),
        "process_unit_type": units.OptionsType(),
        "mean": normalization.MeanAsNumpy().tolist(),
        "std": normalization.StdAsNumpy().tolist(),
        "color_space": properties.ColorSpace(),
        "default_size": [properties.DefaultSize().Width(), properties.DefaultSize().Height()],
        "labels_file": labels_file.Name().decode(),
        "labels_file_type": labels_file.Type(),
        "input_type": tensor.Type(),
        "input_scale": quantization.ScaleAsNumpy().tolist() if quantization and quantization.ScaleLength() else [],
        "input_zero_point": (quantization.ZeroPointAsNumpy().tolist()
                             if quantization and quantization.ZeroPointLength() else []),
    }


def main():
    models, images = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    out = {}
    for model in models:
        options = vision.ImageClassifierOptions(
            base_options=base_options.BaseOptions(model_asset_path=model), max_results=3)
        categories = {}
        with vision.ImageClassifier.create_from_options(options) as classifier:
            for image in images:
                result = classifier.classify(mp.Image.create_from_file(image))
                categories[image] = [[c.category_name, c.score] for c in result.classifications[0].categories]
        out[model] = {"categories": categories, "metadata": read_metadata(model)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
