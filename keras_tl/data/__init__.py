"""Data sources, the image scan, splits and tf.data pipelines."""

from keras_tl.data.feature_store import FeatureStore, row_order
from keras_tl.data.image_cache import image_cache_file
from keras_tl.data.pipeline import (IMAGE_INPUT, augments, build_augmenter, encode_targets, load_image, load_images,
                                    make_dataset, shuffled)
from keras_tl.data.prepared import (PreparedData, SourceCheck, check_source, inspect_source, label_counts,
                                    load_prepared, prepare_data, prepare_text, require_texts, warnings_for)
from keras_tl.data.scan import ScanReport, scan
from keras_tl.data.sources import IMAGE_EXTENSIONS, Listing, Sample, list_source
from keras_tl.data.split import SPLITS, load_split, save_splits, stratified_split
from keras_tl.data.tokenizer import PADDING_MASK_INPUT, TEXT_INPUTS, TOKEN_IDS_INPUT, TextTokenizer

__all__ = [
    "IMAGE_EXTENSIONS",
    "FeatureStore",
    "IMAGE_INPUT",
    "Listing",
    "PADDING_MASK_INPUT",
    "PreparedData",
    "SPLITS",
    "Sample",
    "ScanReport",
    "SourceCheck",
    "TEXT_INPUTS",
    "TOKEN_IDS_INPUT",
    "TextTokenizer",
    "augments",
    "build_augmenter",
    "check_source",
    "encode_targets",
    "inspect_source",
    "image_cache_file",
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
    "row_order",
    "save_splits",
    "scan",
    "shuffled",
    "stratified_split",
    "warnings_for",
]
