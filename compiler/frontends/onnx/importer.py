"""Importing an ONNX model into the nn dialect.

The algorithm, in the order `load_onnx` runs it:
  1. Read the model (a path, bytes or a `ModelProto`); anything that is not an ONNX model is an
     `OnnxImportError` with a hint, never a protobuf traceback.
  2. Check the opsets: the default domain must be 9 .. the newest `onnx` knows (an older model
     imports when each of its ops is unchanged since opset 9); nodes of other domains are
     rejected when they are met. Check what onnx.checker would reject, each as one sentence
     naming the part: the graph's structure (`check_graph`: every node input names a value
     defined before it, no value is defined twice, initializers have unique names), each
     initializer's data against its shape and type (`tensor_array`), and each node against its
     op's schema before its converter reads it (`Node.check_signature`: input and output counts,
     required attributes, attribute types, no unknown attributes).
  3. (At the end) cross-check the output shapes lamina computed against the model's declared
     output shapes, running ONNX shape inference when the model declares none.
  4. Make `func.func @main`: one argument per graph input that is not an initializer, with its
     dims pinned by `input_shapes` (unknown dims stay `?` until an op needs them static).
  5. Initializers become `nn.constant`.
  6. Nodes, in graph order (ONNX requires topological order): look up the converter for the op
     type, give it a `Node` view (attributes as Python values, inputs as SSA values) and the
     importer as the context through which it emits nn ops. An op whose operands are all
     constants is evaluated right away with its `interpret` and becomes an `nn.constant`
     (onnx-simplifier style), so shape glue folds as the graph is read.
  7. Return the graph outputs; the function's result types are the types lamina inferred.
     Constants nothing reads any more (folded glue, shape initializers) are erased, and the
     module is verified.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np

from lamina.compiler.attributes import Attribute, DenseElementsAttr
from lamina.compiler.builder import Builder
from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import Value
from lamina.compiler.location import NameLoc
from lamina.compiler.opdef import Pure, lookup_op
from lamina.compiler.types import (IntegerType, RankedTensorType, Type, bf16, f16, f32,
                                   f64, i1, i8, i16, i32, i64)

MIN_OPSET = 9
FOLD_MAX_ELEMENTS = 1 << 24  # larger results stay ops (a fold-constants pass may still fold them)
MAX_CONSTANT_ELEMENTS = 1 << 28  # a constant the importer makes from a shape (ConstantOfShape, Range)
CHECK_HINT = "the model is not valid ONNX; check it with onnx.checker.check_model(model, full_check=True)"


class OnnxImportError(LaminaError):
    """An ONNX model lamina cannot import: not ONNX, an unsupported op or attribute, a missing
    input, a dynamic dim an op needs pinned. One sentence, naming the node, plus a hint."""

    def __init__(self, message: str, *args, **kwargs):
        # names come from the model: a damaged one may hold a newline or a NUL, which would
        # break the one-line message (and the terminal)
        super().__init__(_CONTROL.sub(lambda m: repr(m.group(0))[1:-1], message), *args, **kwargs)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# ---------------------------------------------------------------------------------------------
# Element types


def _element_types() -> dict[int, Type]:
    from onnx import TensorProto as T

    return {T.FLOAT: f32, T.DOUBLE: f64, T.FLOAT16: f16, T.BFLOAT16: bf16, T.BOOL: i1,
            T.INT8: i8, T.INT16: i16, T.INT32: i32, T.INT64: i64,
            T.UINT8: IntegerType(8, "u"), T.UINT16: IntegerType(16, "u"),
            T.UINT32: IntegerType(32, "u"), T.UINT64: IntegerType(64, "u")}


def element_type(onnx_type: int, what: str) -> Type:
    """The lamina element type of an ONNX `TensorProto.DataType`, or an error naming `what`."""
    from onnx import TensorProto

    el = _element_types().get(onnx_type)
    if el is None:
        name = TensorProto.DataType.Name(onnx_type) if onnx_type in TensorProto.DataType.values() else str(onnx_type)
        raise OnnxImportError(f"{what} has element type {name}, which lamina does not have",
                              hint="lamina has f16, bf16, f32, f64, bool and (u)int8..64 tensors")
    return el


def dtype_supported(onnx_type: int) -> bool:
    return onnx_type in _element_types()


def tensor_array(tensor, what: str) -> np.ndarray:
    """The numpy value of a TensorProto (an initializer, a Constant node's value), after checking
    what numpy_helper would trip on: the element type, negative dims, data of the wrong size."""
    from onnx import TensorProto, helper, numpy_helper

    el = element_type(tensor.data_type, what)
    dims = [int(d) for d in tensor.dims]
    if any(d < 0 for d in dims):
        raise OnnxImportError(f"{what} has the shape {dims}, with a negative dimension", hint=CHECK_HINT)
    count = math.prod(dims)
    type_name = TensorProto.DataType.Name(tensor.data_type)
    if tensor.HasField("raw_data"):
        need = count * el.numpy_dtype.itemsize
        if len(tensor.raw_data) != need:
            raise OnnxImportError(f"{what} has {len(tensor.raw_data)} bytes of raw data, but its shape "
                                  f"{dims} of {type_name} needs {need}", hint=CHECK_HINT)
    else:
        field = helper.tensor_dtype_to_field(tensor.data_type)
        have = len(getattr(tensor, field))
        if have != count:
            held = "no data" if have == 0 else f"{have} values in {field}"
            raise OnnxImportError(f"{what} has {held}, but its shape {dims} of {type_name} needs {count} "
                                  "values", hint=CHECK_HINT)
    try:
        return numpy_helper.to_array(tensor)
    except Exception as e:  # what the checks above missed: still the model's fault, said in one line
        raise OnnxImportError(f"{what} cannot be read: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
                              hint=CHECK_HINT) from None


_NAME_CHARS = re.compile(r"[^A-Za-z0-9_$.\-]")


def sanitize(name: str) -> str | None:
    """An ONNX value name as an SSA name hint (`[A-Za-z0-9_$.-]`, not starting with a digit)."""
    hint = _NAME_CHARS.sub("_", name)
    if not hint:
        return None
    return "_" + hint if hint[0].isdigit() else hint


# ---------------------------------------------------------------------------------------------
# Reading the model


def read_model(path_or_model):
    """A `ModelProto` from a path, bytes or a ModelProto; OnnxImportError if it is not ONNX."""
    import onnx

    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model
    if isinstance(path_or_model, (bytes, bytearray)):
        data, where = bytes(path_or_model), "the given bytes"
    else:
        path = os.fspath(path_or_model)
        where = path
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise OnnxImportError(f"cannot read '{path}': {e.strerror or e}",
                                  hint="check the path; lamina reads .onnx files") from None
    not_onnx = OnnxImportError(f"{where} is not a valid ONNX model (truncated or another format)",
                               hint="re-export the model, or check it with `python -m onnx.checker`")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:  # google.protobuf.message.DecodeError and friends
        raise not_onnx from None
    if not data or not model.HasField("graph") or model.ir_version == 0:
        raise not_onnx
    if any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer):
        if isinstance(path_or_model, (bytes, bytearray)):
            raise OnnxImportError("the model keeps its weights in external files, but it was given as "
                                  "bytes", hint="pass the .onnx path so lamina can find the weight files")
        try:
            onnx.load_external_data_for_model(model, os.path.dirname(os.path.abspath(where)))
        except Exception as e:
            raise OnnxImportError(f"cannot load the external weights of {where}: {e}",
                                  hint="keep the weight files next to the .onnx file") from None
    return model


def default_opset(model) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    return 1


# ---------------------------------------------------------------------------------------------
# The node view converters see


class Node:
    """One ONNX node as converters see it: attributes as Python values, inputs as SSA values."""

    def __init__(self, proto, index: int, importer: "Importer"):
        self.proto = proto
        self.op_type = proto.op_type
        self.domain = proto.domain or ""
        self.name = proto.name or f"{proto.op_type}_{index}"
        self.opset = importer.opset
        self.importer = importer
        self.input_names = list(proto.input)
        self.output_names = list(proto.output)
        self.attrs: dict[str, Any] = {}  # filled by check_signature

    # -- the one check of what a converter reads -----------------------------------------------

    def check_signature(self) -> None:
        """Check the node against its op's ONNX schema at the model's opset, as onnx.checker does,
        then read its attributes as Python values: the number of inputs and outputs, the inputs
        that may not be left out, required attributes, each attribute's type, and no attribute
        the op does not have. Converters then read attributes and inputs without checking their
        presence or type again (their values are theirs to check)."""
        from onnx import AttributeProto, defs

        try:
            schema = defs.get_schema(self.op_type, self.opset, "")
        except Exception:  # no schema at this opset: the converter's own checks only
            schema = None
        if schema is not None:
            n_in, n_out = len(self.input_names), len(self.output_names)
            if not schema.min_input <= n_in <= schema.max_input:
                raise self.error(f"has {n_in} input{'s' * (n_in != 1)}, but {self.op_type} takes "
                                 f"{_count_range(schema.min_input, schema.max_input)}", hint=CHECK_HINT)
            if not schema.min_output <= n_out <= schema.max_output:
                raise self.error(f"has {n_out} output{'s' * (n_out != 1)}, but {self.op_type} makes "
                                 f"{_count_range(schema.min_output, schema.max_output)}", hint=CHECK_HINT)
            single = defs.OpSchema.FormalParameterOption.Single
            for i, (formal, name) in enumerate(zip(schema.inputs, self.input_names)):
                if formal.option == single and not name:
                    raise self.error(f"input #{i} ({formal.name}) is empty, but {self.op_type} needs it",
                                     hint=CHECK_HINT)
            for name, attr in schema.attributes.items():
                if attr.required and name not in {a.name for a in self.proto.attribute}:
                    raise self.error(f"the required attribute '{name}' is missing", hint=CHECK_HINT)
        for a in self.proto.attribute:
            declared = schema.attributes.get(a.name) if schema is not None else None
            if schema is not None and declared is None:
                raise self.error(f"has an attribute '{a.name}', which {self.op_type} (opset {self.opset}) "
                                 "does not have", hint=CHECK_HINT)
            if a.type not in AttributeProto.AttributeType.values():
                raise self.error(f"attribute '{a.name}' has no valid type ({a.type})", hint=CHECK_HINT)
            if declared is not None and int(declared.type.value) != a.type:
                raise self.error(f"attribute '{a.name}' is {_attr_type_name(a.type)}, but {self.op_type} "
                                 f"takes {_attr_type_name(int(declared.type.value))}", hint=CHECK_HINT)
            self.attrs[a.name] = self._attribute_value(a)

    def _attribute_value(self, a):
        from onnx import helper

        try:
            value = helper.get_attribute_value(a)
        except Exception:
            raise self.error(f"attribute '{a.name}' has no valid type ({a.type})", hint=CHECK_HINT) from None
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if hasattr(value, "dims") and hasattr(value, "data_type"):  # a TensorProto
            return tensor_array(value, f"node '{self.name}' ({self.op_type}): attribute '{a.name}'")
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            return [v.decode("utf-8", "replace") for v in value]
        return value

    # -- attributes ----------------------------------------------------------------------------

    def attr(self, name: str, default=None):
        return self.attrs.get(name, default)

    # -- inputs --------------------------------------------------------------------------------

    def has_input(self, i: int) -> bool:
        return i < len(self.input_names) and self.input_names[i] != ""

    def input(self, i: int) -> Value:
        if not self.has_input(i):
            raise self.error(f"needs input #{i}, which is missing")
        return self.importer.value(self.input_names[i], self)

    def optional_input(self, i: int) -> Value | None:
        return self.input(i) if self.has_input(i) else None

    @property
    def inputs(self) -> list[Value | None]:
        return [self.optional_input(i) for i in range(len(self.input_names))]

    def const_input(self, i: int, what: str) -> np.ndarray | None:
        """The value of input #i, which must be a constant (an initializer, a Constant node or
        glue that folded); None when the optional input is absent."""
        if not self.has_input(i):
            return None
        array = self.importer.constant_value(self.input(i))
        if array is None:
            raise self.error(f"needs its input '{self.input_names[i]}' ({what}) to be a constant, "
                             "but it is computed at run time",
                             hint="lamina resolves shape-like inputs at import: make it an initializer"
                                  + (f"; or {self.importer.pin_hint()}" if self.importer.dynamic_inputs else ""))
        return array

    def const_ints(self, i: int, what: str, required: bool = True) -> list[int] | None:
        """Input #i as a list of integers (a shape, axes, pads): a constant of an integer type,
        of rank 0 or 1. None when the optional input is absent (required: an error)."""
        array = self.const_input(i, what)
        if array is None:
            if required:
                raise self.error(f"needs its input #{i} ({what}), which is missing", hint=CHECK_HINT)
            return None
        if array.dtype.kind not in "iu" or array.ndim > 1:
            raise self.error(f"needs its input '{self.input_names[i]}' ({what}) to be a 1-D tensor of "
                             f"integers, but it is a {array.dtype} tensor of shape {list(array.shape)}",
                             hint=CHECK_HINT)
        return [int(v) for v in array.reshape(-1)]

    def const_scalar(self, i: int, what: str):
        """Input #i as one number (a bound, a ratio): a constant holding one element; None when
        the optional input is absent."""
        array = self.const_input(i, what)
        if array is None:
            return None
        if array.size != 1:
            raise self.error(f"needs its input '{self.input_names[i]}' ({what}) to hold one value, but "
                             f"it has shape {list(array.shape)}", hint=CHECK_HINT)
        return array.reshape(-1)[0]

    def check_elements(self, shape, what: str) -> tuple[int, ...]:
        """`shape` for a constant the importer makes (ConstantOfShape, Range, a Dropout mask):
        non-negative and of a size that fits in memory."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise self.error(f"makes {what} of shape {list(shape)}, with a negative dimension", hint=CHECK_HINT)
        if math.prod(shape) > MAX_CONSTANT_ELEMENTS:
            raise self.error(f"makes {what} of shape {list(shape)}: {math.prod(shape)} elements, more than "
                             f"lamina makes at import ({MAX_CONSTANT_ELEMENTS})", hint=CHECK_HINT)
        return shape

    def wants_output(self, i: int) -> bool:
        return i < len(self.output_names) and self.output_names[i] != ""

    # -- errors --------------------------------------------------------------------------------

    def error(self, message: str, hint: str | None = None) -> OnnxImportError:
        return OnnxImportError(f"node '{self.name}' ({self.op_type}): {message}", hint=hint)

    def unsupported_attr(self, name: str, value=None, hint: str | None = None) -> OnnxImportError:
        value = self.attr(name) if value is None else value
        return self.error(f"attribute {name}={value!r} is not supported",
                          hint=hint or "lamina follows the nn op table (dialects/nn/README.md)")


# ---------------------------------------------------------------------------------------------
# The importer


class Importer:
    """Builds the module; converters emit ops through `op`, `ops` and `const`."""

    def __init__(self, model, input_shapes: dict[str, tuple] | None):
        self.model = model
        self.graph = model.graph
        self.opset = default_opset(model)
        self.input_shapes = {k: tuple(v) for k, v in (input_shapes or {}).items()}
        self.values: dict[str, Value] = {}
        self.constants: dict[Value, np.ndarray] = {}
        self.dynamic_inputs: list[str] = []
        self._named: set[Value] = set()  # values that already carry an ONNX name
        self.location = None
        self.builder: Builder | None = None
        self.current: Node | None = None

    # -- what converters call --------------------------------------------------------------------

    def value(self, name: str, node: Node | None = None) -> Value:
        if name not in self.values:
            where = f"node '{node.name}' ({node.op_type}) reads" if node else "the graph outputs"
            raise OnnxImportError(f"{where} '{name}', which no input, initializer or earlier node defines",
                                  hint="the model is incomplete or not in topological order; "
                                       "check it with onnx.checker.check_model(model, full_check=True)")
        return self.values[name]

    def constant_value(self, value: Value) -> np.ndarray | None:
        return self.constants.get(value)

    def const(self, array, element: Type | None = None) -> Value:
        """An `nn.constant` holding `array` (of `element` type, or the array's own)."""
        array = np.asarray(array)
        if element is None:
            element = numpy_element_type(array.dtype)
        t = RankedTensorType(tuple(array.shape), element)
        op = lookup_op("nn.constant")(result_types=[t], properties={"value": DenseElementsAttr(t, array)},
                                      location=self.location)
        self.builder.insert(op)
        self.constants[op.result] = array.astype(element.numpy_dtype, copy=False)
        return op.result

    def op(self, name: str, *operands: Value, result_types=None, **props) -> Value:
        """Emit nn op `name` and return its single result."""
        return self.ops(name, *operands, result_types=result_types, **props)[0]

    def ops(self, name: str, *operands: Value, result_types=None, **props) -> list[Value]:
        """Emit nn op `name` (folded to constants when every operand is one); its results."""
        cls = lookup_op(name)
        if cls is None:
            raise OnnxImportError(f"lamina has no op '{name}' registered (the nn dialect is incomplete)",
                                  hint="see dialects/nn/README.md for the op table")
        props = {k: v for k, v in props.items() if v is not None and not _is_default(cls, k, v)}
        op = None
        try:
            op = cls.build(*operands, result_types=result_types, location=self.location, **props)
            problem = op.verify()
        except LaminaError:
            raise
        except Exception as e:  # ShapeError, or an op's own bug: a sentence, never a traceback
            problem = str(e) or type(e).__name__
        if problem:
            if isinstance(op, cls):
                op.drop_operand_uses()
            raise self._op_error(name, problem)
        known = [self.constants.get(v) for v in operands]
        if cls.has_trait(Pure) and all(k is not None for k in known) and name != "nn.constant":
            folded = self._fold(op, known)
            if folded is not None:
                op.drop_operand_uses()  # the op is dropped: its operands must not count it as a user
                return folded
        self.builder.insert(op)
        return list(op.results)

    def _fold(self, op, known: list[np.ndarray]) -> list[Value] | None:
        if not all(isinstance(t, RankedTensorType) and t.has_static_shape
                   and t.num_elements <= FOLD_MAX_ELEMENTS for t in op.result_types):
            return None
        try:
            out = op.interpret(*known)
        except Exception:
            return None  # no reference semantics: keep the op
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        return [self.const(np.asarray(a, dtype=t.element_type.numpy_dtype).reshape(t.shape), t.element_type)
                for a, t in zip(outs, op.result_types)]

    def pin_hint(self) -> str:
        """How to pin the inputs that have dynamic dims, naming them."""
        if not self.dynamic_inputs:
            return "the model's shapes are all static here; check the model with onnx.checker"
        names = ", ".join(repr(n) for n in self.dynamic_inputs)
        pins = " ".join(f"--input-shape {n}=..." for n in self.dynamic_inputs)
        return (f"{names} {'has' if len(self.dynamic_inputs) == 1 else 'have'} dynamic dims: pin them "
                f"with input_shapes={{{self.dynamic_inputs[0]!r}: (...)}} or {pins}")

    def _op_error(self, name: str, problem: str) -> OnnxImportError:
        node = self.current
        message = f"node '{node.name}' ({node.op_type}): {name} {problem}"
        if self.dynamic_inputs:
            return OnnxImportError(message, hint=self.pin_hint())
        return OnnxImportError(message, hint="the model may be invalid; check it with onnx.checker")

    # -- the steps -----------------------------------------------------------------------------

    def run(self):
        from lamina.dialects.builtin import ModuleOp
        from lamina.dialects.func import FuncOp, ReturnOp
        import lamina.dialects.nn  # noqa: F401  (registers the nn ops)

        self._check_opset()
        check_graph(self.graph)
        initializers = {t.name: t for t in self.graph.initializer}
        unknown = set(self.input_shapes) - {i.name for i in self.graph.input}
        if unknown:
            names = ", ".join(i.name for i in self.graph.input if i.name not in initializers)
            raise OnnxImportError(f"input_shapes names {', '.join(sorted(unknown))}, which the model "
                                  "does not have as inputs", hint=f"the model's inputs are: {names}")
        inputs = [i for i in self.graph.input if i.name not in initializers]
        arg_types = [self._input_type(i) for i in inputs]

        module = ModuleOp.empty()
        fn = FuncOp.create_with_body("main", arg_types, [])
        module.block.append(fn)
        self.builder = Builder.at_end(fn.entry)
        for arg, info in zip(fn.entry.args, inputs):
            arg.name_hint = sanitize(info.name)
            self._named.add(arg)
            self.values[info.name] = arg

        self._initializers(initializers)
        self._nodes()

        outputs = [self.value(o.name) for o in self.graph.output]
        self.location = None
        ret = ReturnOp(operands=outputs)
        self.builder.insert(ret)
        self._erase_dead_constants(fn)
        self._set_function_type(fn, arg_types, [v.type for v in outputs])
        self._check_outputs(outputs)
        return module

    def _check_opset(self):
        import onnx

        newest = onnx.defs.onnx_opset_version()
        if not 1 <= self.opset <= newest:
            raise OnnxImportError(f"the model uses ONNX opset {self.opset}; lamina imports opsets "
                                  f"{MIN_OPSET} to {newest}",
                                  hint="convert it with onnx.version_converter.convert_version(model, 13)")

    def _check_old_opset(self, node: Node):
        """Below opset 9, a node imports only if its op has not changed since (Not, Relu, ...)."""
        from onnx import defs

        try:
            same = (defs.get_schema(node.op_type, self.opset).since_version
                    == defs.get_schema(node.op_type, MIN_OPSET).since_version)
        except Exception:
            same = False
        if not same:
            raise OnnxImportError(f"node '{node.name}' ({node.op_type}) is from ONNX opset {self.opset}; "
                                  f"lamina imports opsets {MIN_OPSET} and newer",
                                  hint="convert the model with onnx.version_converter.convert_version(model, 13)")

    def _input_type(self, info) -> RankedTensorType:
        tt = info.type.tensor_type if info.type.HasField("tensor_type") else None
        if tt is None:
            kind = info.type.WhichOneof("value") or "unknown"
            raise OnnxImportError(f"graph input '{info.name}' is a {kind}, not a tensor",
                                  hint="lamina imports graphs of tensors only")
        el = element_type(tt.elem_type, f"graph input '{info.name}'")
        pinned = self.input_shapes.get(info.name)
        if not tt.HasField("shape"):
            if pinned is None:
                raise OnnxImportError(f"graph input '{info.name}' has no shape (not even a rank)",
                                      hint=f"give it one with input_shapes={{'{info.name}': (...)}} "
                                           f"or --input-shape {info.name}=1x3x224x224")
            return RankedTensorType(tuple(int(d) for d in pinned), el)
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if any(d is not None and d < 0 for d in dims):
            raise OnnxImportError(f"graph input '{info.name}' has the shape {['?' if d is None else d for d in dims]}, "
                                  "with a negative dimension", hint=CHECK_HINT)
        if pinned is not None:
            if len(pinned) != len(dims):
                raise OnnxImportError(f"input_shapes gives '{info.name}' rank {len(pinned)}, but the model "
                                      f"says rank {len(dims)}", hint="give one size per dimension")
            for i, (d, p) in enumerate(zip(dims, pinned)):
                if d is not None and d != p:
                    raise OnnxImportError(f"input_shapes gives '{info.name}' size {p} in dimension {i}, "
                                          f"but the model fixes it to {d}", hint="change the pinned size")
            dims = [int(p) for p in pinned]
        if any(d is None for d in dims):
            self.dynamic_inputs.append(info.name)
        return RankedTensorType(tuple(dims), el)

    def _initializers(self, initializers):
        for name, tensor in initializers.items():
            self.location = NameLoc(name)
            el = element_type(tensor.data_type, f"initializer '{name}'")
            value = self.const(tensor_array(tensor, f"initializer '{name}'"), el)
            value.name_hint = sanitize(name)
            self._named.add(value)
            self.values[name] = value

    def _nodes(self):
        from .converters import CONVERTERS, supported_ops

        for index, proto in enumerate(self.graph.node):
            node = Node(proto, index, self)
            self.current = node
            self.location = NameLoc(node.name)
            if node.domain not in ("", "ai.onnx"):
                raise OnnxImportError(f"node '{node.name}' is {node.domain}.{node.op_type}, from domain "
                                      f"'{node.domain}'; lamina imports only the default ONNX domain",
                                      hint="export without custom ops, or run onnxruntime's optimizer "
                                           "offline with contrib ops disabled")
            convert = CONVERTERS.get(node.op_type)
            if convert is not None and self.opset < MIN_OPSET:
                self._check_old_opset(node)
            if convert is None:
                raise OnnxImportError(
                    f"node '{node.name}' has op type {node.op_type} (domain 'ai.onnx', opset "
                    f"{self.opset}), which lamina does not support",
                    hint="supported ops: " + ", ".join(supported_ops()))
            node.check_signature()
            try:
                results = convert(self, node)
            except LaminaError:
                raise
            except Exception as e:  # a converter tripped: on a model onnx.checker rejects, that is
                # the model's fault (one line, naming the node); on a valid one it is lamina's
                self._raise_if_invalid(node, e)
                raise
            results = list(results) if isinstance(results, (list, tuple)) else [results]
            wanted = node.output_names
            for name, value in zip(wanted, results):
                if not name or value is None:
                    continue
                if value not in self._named:  # a pass-through keeps its first name
                    value.name_hint = sanitize(name)
                    self._named.add(value)
                self.values[name] = value
            for i, name in enumerate(wanted):
                if name and name not in self.values:
                    raise node.error(f"output #{i} '{name}' is not supported by lamina's converter",
                                     hint="leave that output unused (an empty name)")

    def _raise_if_invalid(self, node: Node, exc: Exception) -> None:
        """An OnnxImportError naming `node` when onnx.checker rejects the model."""
        from onnx import checker

        try:
            checker.check_model(self.model)
        except checker.ValidationError as e:
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise node.error(f"cannot be converted ({type(exc).__name__}: {exc}); onnx.checker says: {reason}",
                             hint=CHECK_HINT) from None

    @staticmethod
    def _erase_dead_constants(fn):
        """Initializers nothing reads and the glue that folded into attributes leave unused
        constants behind; they go (last first, so a chain of them goes at once)."""
        for op in reversed(list(fn.entry)):
            if op.name == "nn.constant" and not any(r.has_uses() for r in op.results):
                op.erase()

    @staticmethod
    def _set_function_type(fn, inputs, results):
        from lamina.compiler.attributes import TypeAttr
        from lamina.compiler.types import FunctionType

        fn.properties["function_type"] = TypeAttr(FunctionType(tuple(inputs), tuple(results)))

    def _declared_outputs(self):
        """The graph outputs with ONNX shape inference's types when the model declares none."""
        if all(o.type.tensor_type.HasField("shape") for o in self.graph.output):
            return list(self.graph.output)
        try:
            from onnx import shape_inference

            return list(shape_inference.infer_shapes(self.model).graph.output)
        except Exception:  # inference is a cross-check only; a model it cannot read still imports
            return list(self.graph.output)

    def _check_outputs(self, outputs):
        """Cross-check lamina's output shapes against the model's (declared or inferred)."""
        for info, value in zip(self._declared_outputs(), outputs):
            tt = info.type.tensor_type
            if not tt.HasField("shape") or not isinstance(value.type, RankedTensorType):
                continue
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            if None in dims or not value.type.has_static_shape:
                continue
            if tuple(dims) != tuple(value.type.shape) and not self.dynamic_inputs:
                raise OnnxImportError(f"graph output '{info.name}' has shape {list(value.type.shape)} in "
                                      f"lamina but the model declares {dims}",
                                      hint="the model's declared output shape may be stale; if not, "
                                           "this is a lamina bug: please report it with the model")


def check_graph(graph) -> None:
    """The graph's structure, as onnx.checker checks it: initializers have unique, non-empty names;
    every node input names a graph input, an initializer or an earlier node's output; no value is
    defined twice; the graph outputs name defined values. Each problem is one sentence naming the
    node or initializer."""
    defined: dict[str, str] = {}  # value name -> what defines it
    for i, t in enumerate(graph.initializer):
        if not t.name:
            raise OnnxImportError(f"initializer #{i} has no name", hint=CHECK_HINT)
        if t.name in defined:
            raise OnnxImportError(f"initializer '{t.name}' is defined twice", hint=CHECK_HINT)
        defined[t.name] = f"initializer '{t.name}'"
    for info in graph.input:
        if info.name in defined and not defined[info.name].startswith("initializer"):
            raise OnnxImportError(f"graph input '{info.name}' is listed twice", hint=CHECK_HINT)
        defined.setdefault(info.name, f"graph input '{info.name}'")
    later = {o: n for n in graph.node for o in n.output if o}
    for index, node in enumerate(graph.node):
        who = f"node '{node.name or f'{node.op_type}_{index}'}' ({node.op_type})"
        for name in node.input:
            if name and name not in defined:
                if name in later:
                    raise OnnxImportError(f"{who} reads '{name}' before node '{later[name].name}' "
                                          f"({later[name].op_type}) defines it", hint=
                                          "the nodes are not in topological order, as ONNX requires; " + CHECK_HINT)
                raise OnnxImportError(f"{who} reads '{name}', which no input, initializer or earlier node "
                                      "defines",
                                      hint=CHECK_HINT)
        for name in node.output:
            if name in defined:
                raise OnnxImportError(f"{who} defines '{name}', which {defined[name]} defines already",
                                      hint="each value is defined once (SSA); " + CHECK_HINT)
            if name:
                defined[name] = who
    for info in graph.output:
        if info.name not in defined:
            raise OnnxImportError(f"graph output '{info.name}' is not defined by any input, initializer "
                                  "or node", hint=CHECK_HINT)


def _count_range(low: int, high: int) -> str:
    if low == high:
        return str(low)
    if high >= 2 ** 31 - 1:
        return f"at least {low}"
    return f"{low} to {high}"


def _attr_type_name(t: int) -> str:
    from onnx import AttributeProto

    return AttributeProto.AttributeType.Name(t) if t in AttributeProto.AttributeType.values() else str(t)


def _is_default(cls, name: str, value) -> bool:
    """An attribute equal to its declared default is left out, so the IR shows only choices."""
    field = getattr(cls, name, None)
    return isinstance(getattr(field, "default", None), Attribute) and field.default == value


def numpy_element_type(dtype) -> Type:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return i1
    if dtype.kind == "f":
        return {2: f16, 4: f32, 8: f64}[dtype.itemsize]
    if dtype.kind in "iu":
        return IntegerType(dtype.itemsize * 8, "u" if dtype.kind == "u" else "")
    if dtype.name == "bfloat16":
        return bf16
    raise OnnxImportError(f"a constant has numpy dtype {dtype}, which lamina does not have")


def parse_input_shapes(specs) -> dict[str, tuple]:
    """`["image=1x3x224x224", "mask=1x224x224"]` (the CLI's --input-shape) as a dict for
    `load_onnx(..., input_shapes=)`; a scalar is `name=` (no dims)."""
    shapes = {}
    for spec in specs:
        name, sep, dims = spec.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            shapes[name] = tuple(int(d) for d in dims.split("x")) if dims else ()
            if any(d < 0 for d in shapes[name]):
                raise ValueError
        except ValueError:
            raise OnnxImportError(f"--input-shape '{spec}' is not NAME=DIMS",
                                  hint="write it like image=1x3x224x224") from None
    return shapes


def load_onnx(path_or_model, input_shapes: dict[str, tuple] | None = None):
    """Import an ONNX model (a path, bytes or `onnx.ModelProto`) as a `builtin.module` holding
    `func.func @main`. `input_shapes` pins inputs' unknown dims: `{"input": (1, 3, 224, 224)}`."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise OnnxImportError("importing ONNX models needs the 'onnx' package",
                              hint="pip install onnx") from None
    from lamina.compiler.errors import VerifyError
    from lamina.compiler.verifier import verify

    model = read_model(path_or_model)
    module = Importer(model, input_shapes).run()
    try:
        verify(module)
    except VerifyError as e:  # a converter produced IR an op rejects: say so, with the op's notes
        raise OnnxImportError(f"the imported model does not verify: {e.message}", notes=e.notes,
                              hint="the node named in the location above uses a form the nn op does "
                                   "not accept") from None
    return module
