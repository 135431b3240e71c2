"""Each backbone's ImageNet preprocessing as layers inside the model: every artifact takes raw 0-255 RGB."""

from __future__ import annotations

import keras

from keras_tl.models.registry import BackboneSpec

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="keras_tl")
class ChannelReverse(keras.layers.Layer):
    """RGB -> BGR, as 'caffe'-mode weights (ResNet v1, VGG) expect."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape


def add_preprocessing(spec: BackboneSpec, image: keras.KerasTensor) -> keras.KerasTensor:
    mode = spec.preprocessing
    if mode == "tf":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="tl_preprocess")(image)
    if mode == "torch":
        scale = [1 / (255.0 * s) for s in IMAGENET_STD_RGB]
        offset = [-m / s for m, s in zip(IMAGENET_MEAN_RGB, IMAGENET_STD_RGB)]
        return keras.layers.Rescaling(scale, offset=offset, name="tl_preprocess")(image)
    if mode == "caffe":
        bgr = ChannelReverse(name="tl_preprocess_bgr")(image)
        return keras.layers.Rescaling(1.0, offset=[-m for m in CAFFE_MEAN_BGR], name="tl_preprocess")(bgr)
    return image  # "included": the base normalises 0-255 input itself
