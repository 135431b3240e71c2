"""Which ops of an exported graph come from given Keras layers, so that int8 can keep them float.

Both converters keep the layer names in their node names: ``functional_1/conv_dw_1_1/depthwise`` in TFLite tensor
names (a fused op joins several names with ';') and in tf2onnx node names. Keras 3 adds ``_<n>`` to a layer's name
scope in traced graphs, so ``conv_dw_1`` must claim ``conv_dw_1_1/`` but not ``conv_dw_10_1/`` or
``conv_dw_1_bn_1/``. One ambiguity is left: the layers ``conv2d`` and ``conv2d_1`` are traced as ``conv2d_1`` and
``conv2d_1_2``, so naming ``conv2d_1`` also claims ``conv2d``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable


def layers_pattern(names: Iterable[str]) -> re.Pattern:
    """A pattern matching the graph node (or TFLite tensor) names of the layers ``names``."""
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?:^|[/;])(?:{alternatives})(?:_\d+)?/")


@dataclass(frozen=True)
class FloatScope:
    """The nodes an int8 export leaves float: those matching ``pattern`` (except weight ops when ``weights_int8``).
    ``by_weight_names``: an ONNX node also matches through the names of its weights (tf2onnx renames fused Conv
    nodes); the text tower is found by node names alone, as its int8 schemes were measured."""

    pattern: re.Pattern
    weights_int8: bool = False
    by_weight_names: bool = False

    def keeps_float(self, name: str, is_weight_op: bool = False) -> bool:
        return bool(self.pattern.search(name)) and not (self.weights_int8 and is_weight_op)
