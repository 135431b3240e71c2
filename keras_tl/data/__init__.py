"""Data sources, the image scan, splits and tf.data pipelines."""

from keras_tl.data.pipeline import IMAGE_INPUT, build_augmenter, encode_targets, load_image, load_images, make_dataset
from keras_tl.data.prepared import (PreparedData, check_source, label_counts, load_prepared, prepare_data,
                                    prepare_text, require_texts, warnings_for)
from keras_tl.data.scan import ScanReport, scan
from keras_tl.data.sources import IMAGE_EXTENSIONS, Listing, Sample, list_source
from keras_tl.data.split import SPLITS, load_split, save_splits, stratified_split
from keras_tl.data.tokenizer import PADDING_MASK_INPUT, TEXT_INPUTS, TOKEN_IDS_INPUT, TextTokenizer

__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_INPUT",
    "Listing",
    "PADDING_MASK_INPUT",
    "PreparedData",
    "SPLITS",
    "Sample",
    "ScanReport",
    "TEXT_INPUTS",
    "TOKEN_IDS_INPUT",
    "TextTokenizer",
    "build_augmenter",
    "check_source",
    "encode_targets",
    "label_counts",
    "list_source",
    "load_image",
    "load_images",
    "load_prepared",
    "load_split",
    "make_dataset",
    "prepare_data",
    "prepare_text",
    "require_texts",
    "save_splits",
    "scan",
    "stratified_split",
    "warnings_for",
]
