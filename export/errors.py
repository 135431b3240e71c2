"""Errors of the export stage, all one-line KerasTLErrors (the CLI prints them without a traceback)."""

from __future__ import annotations

from keras_tl.errors import KerasTLError


class ExportError(KerasTLError):
    pass


class UnsupportedOpsError(ExportError):
    """The model uses TensorFlow ops that TFLite builtins (or Flex, when allowed) cannot express."""

    def __init__(self, ops: list[str], flex_allowed: bool):
        self.ops = ops
        if flex_allowed:
            hint = "TFLite has no kernel for them, not even through the Flex delegate"
        else:
            hint = ("set export.allow_flex_ops=true to use TensorFlow (Flex) kernels, which then need the Flex "
                    "delegate in the app, or replace the layer that uses them")
        super().__init__(f"TFLite builtin ops cannot express {', '.join(ops)}: {hint}")


def first_line(err: BaseException, limit: int = 300) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:limit]
