"""An edge runner for exported keras_tl models that needs no TensorFlow (and no keras_tl).

Copy this folder onto the device, ``pip install -r requirements.txt`` (``requirements-extras.txt`` for .onnx,
image+text models and cameras), then::

    python -m edge model_int8.tflite photo.jpg photos/            # from the folder that holds edge/
    python -m edge model_int8.tflite --camera 0 --every 5

or from Python::

    from edge import open_model, load_image
    model = open_model("model_int8.tflite")
    probabilities, ms = model.predict(load_image("photo.jpg", model.image_size))
    batch = model.run({"image": images})        # [n, classes] for input dicts by name, one sample per call

Inside keras_tl this is the one runtime: export verification, the benchmark and ``keras-tl predict`` on a .tflite
or .onnx file run files through these classes too.
"""

from .errors import EdgeError
from .images import image_files, load_image, resize
from .model import EdgeModel, open_model
from .text import TextEncoder

__all__ = ["EdgeError", "EdgeModel", "TextEncoder", "image_files", "load_image", "open_model", "resize"]
