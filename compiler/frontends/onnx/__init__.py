"""The ONNX front-end: `load_onnx(path_or_model, input_shapes=None) -> ModuleOp`.

    from lamina.compiler.frontends.onnx import load_onnx
    module = load_onnx("resnet18.onnx", input_shapes={"input": (1, 3, 224, 224)})

How a model becomes IR (see importer.py for the algorithm, converters.py for the op table):
  - what onnx.checker would reject (a node input that names no value, a value defined twice, an
    initializer whose data does not fit its shape, a node without a required attribute or with
    the wrong number of inputs) is an `OnnxImportError` of one sentence naming the node or
    initializer, checked before any converter runs: a broken model is a user error;
  - the graph becomes `func.func @main`; its inputs (minus those that are initializers) are the
    function's arguments, its outputs the returned values;
  - initializers and Constant nodes become `nn.constant`;
  - each node is converted by the function registered for its op type in `CONVERTERS`;
  - ops whose operands are all constants are evaluated at import (their `interpret`), so the
    shape glue exporters emit (Shape -> Gather -> Concat -> Reshape) folds away.
"""

from .importer import OnnxImportError, load_onnx, parse_input_shapes
from .converters import CONVERTERS, CONSTANT_INPUTS, supported_ops

__all__ = ["load_onnx", "parse_input_shapes", "OnnxImportError", "CONVERTERS", "CONSTANT_INPUTS", "supported_ops"]
