"""The nn dialect's shared pieces: the dialect object, the op base class with nn's one custom
form, numpy-style broadcasting, and the templates that elementwise ops are declared from.

Every nn op prints the same way, operands then inherent attributes then the function type:

    %y = nn.conv2d %x, %w attributes {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>}
             : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>

so a reader learns one shape for the whole dialect, and a new op gets it by subclassing `NnOp`.
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.attributes import (Attribute, DenseArrayAttr, DenseElementsAttr, FloatAttr,
                                        IntegerAttr, StringAttr)
from lamina.compiler.opdef import (Attr, ConstantLike, Dialect, Elementwise, Op, Operand, Pure,
                                   Result, TypeConstraint)
from lamina.compiler.printer import CustomForm
from lamina.compiler.types import FloatType, FunctionType, RankedTensorType, Type, f32, i64

nn = Dialect("nn", "Neural-network tensor ops with ONNX semantics (static shapes preferred).")

tensor_type = TypeConstraint("a ranked tensor", lambda t: isinstance(t, RankedTensorType))
float_tensor = TypeConstraint("a tensor of floats", lambda t: isinstance(t, RankedTensorType)
                              and isinstance(t.element_type, FloatType))


class ShapeError(ValueError):
    """Operand shapes that an op cannot combine; its message is one sentence for the user."""


# ---------------------------------------------------------------------------------------------
# Attribute helpers: nn ops store integer lists as `array<i64: ...>`, scalars as i64 / f32


def ints(values) -> DenseArrayAttr:
    return DenseArrayAttr(i64, tuple(int(v) for v in values))


def integer(value: int) -> IntegerAttr:
    return IntegerAttr(int(value), i64)


def real(value: float) -> FloatAttr:
    return FloatAttr(float(value), f32)


def string(value: str) -> StringAttr:
    return StringAttr(value)


def py(attr: Attribute | None, default=None):
    """The Python value of an nn attribute: tuple for arrays, int, float, str; `default` if None."""
    if attr is None:
        return default
    if isinstance(attr, DenseArrayAttr):
        return tuple(attr.values)
    if isinstance(attr, (IntegerAttr, FloatAttr, StringAttr)):
        return attr.value
    if isinstance(attr, DenseElementsAttr):
        return attr.array
    return attr


def option(op_class, properties: dict, name: str):
    """The Python value of attribute `name` in `properties`, or its declared default: for
    classmethods such as `infer_result_types`, which see a properties dict and not an op."""
    field = getattr(op_class, name)
    if properties.get(name) is not None:
        return py(properties[name])
    if not field.optional:
        raise ShapeError(f"requires attribute '{name}'")
    return py(field.default) if isinstance(field.default, Attribute) else None


# ---------------------------------------------------------------------------------------------
# Shapes


def broadcast_shapes(*shapes) -> tuple:
    """Numpy/ONNX multidirectional broadcasting; `None` (a dynamic dim) broadcasts with 1 or
    itself. Raises ShapeError naming the dims that clash."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(f"shapes {' and '.join(_shape_str(s) for s in shapes)} do not broadcast "
                             f"(dimension {i - rank} is {' vs '.join(map(str, sorted(known)))})")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def broadcasts_to(shape, target) -> bool:
    """Unidirectional broadcasting (a bias to its output): does `shape` stretch to `target`
    without changing `target`?"""
    try:
        result = broadcast_shapes(shape, target)
    except ShapeError:
        return False
    return len(shape) <= len(target) and all(t is None or r == t for r, t in zip(result, target))


def _shape_str(shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def normalize_axis(axis: int, rank: int) -> int:
    """ONNX allows negative axes counted from the end; raise ShapeError when out of range."""
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def with_shape(t: RankedTensorType, shape, element_type: Type | None = None) -> RankedTensorType:
    return RankedTensorType(tuple(shape), element_type or t.element_type)


# ---------------------------------------------------------------------------------------------
# The op base class


class NnOp(Op):
    """Base of nn ops: the shared custom form, and shape inference errors as verifier messages."""

    traits = (Pure,)

    def print_custom(self, p):
        entries = {**self.attributes, **self.properties}
        if set(self.attributes) & set(self.properties):
            return None  # the same name twice: only the generic form can say which is which
        return CustomForm(operands=list(self.operands) or None, attr_dict=entries or None,
                          types=FunctionType(self.operand_types, self.result_types))

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "attr_dict", "types", required=("types",))
        fn_type = parser.function_type_of(form)
        names = form.operands or []
        if len(names) != len(fn_type.inputs):
            parser.fail_form(form, f"has {len(names)} operands but its type lists {len(fn_type.inputs)}")
        operands = [parser.use(n, t) for n, t in zip(names, fn_type.inputs)]
        declared = {a.name for a in cls._attr_defs}
        entries = form.attr_dict or {}
        props = {k: v for k, v in entries.items() if k in declared}
        attrs = {k: v for k, v in entries.items() if k not in declared}
        return cls(operands=operands, result_types=fn_type.results, properties=props, attributes=attrs)

    def verify(self):
        """Shape inference doubles as the shape check: its ShapeError is the message."""
        try:
            type(self).infer_result_types(list(self.operand_types), dict(self.properties))
        except ShapeError as e:
            return str(e)
        return None


@nn.op
class ConstantOp(NnOp):
    """A constant tensor (ONNX initializers and Constant nodes become these).

        %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<4xf32>} : () -> tensor<4xf32>
    """

    name = "nn.constant"
    value = Attr(DenseElementsAttr)
    result = Result(tensor_type)
    traits = (Pure, ConstantLike)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return [properties["value"].type]

    def interpret(self):
        return self.value.array


# ---------------------------------------------------------------------------------------------
# Elementwise templates


class UnaryOp(NnOp):
    """`y = f(x)` elementwise; subclasses set `name` and implement `compute` with numpy."""

    x = Operand(tensor_type)
    y = Result(tensor_type)
    traits = (Pure, Elementwise)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return [operand_types[0]]

    def compute(self, x):
        raise NotImplementedError

    def interpret(self, x):
        with np.errstate(all="ignore"):
            return np.asarray(self.compute(x)).astype(x.dtype, copy=False)


class BinaryOp(NnOp):
    """`z = f(a, b)` elementwise with numpy broadcasting; the result has `a`'s element type."""

    a = Operand(tensor_type)
    b = Operand(tensor_type)
    z = Result(tensor_type)
    traits = (Pure, Elementwise)
    result_element: Type | None = None  # i1 for comparisons

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        a, b = operand_types
        if a.element_type != b.element_type:
            raise ShapeError(f"operands have element types {a.element_type} and {b.element_type}; "
                             "they must match (insert an nn.cast)")
        shape = broadcast_shapes(a.shape, b.shape)
        return [RankedTensorType(shape, cls.result_element or a.element_type)]

    def compute(self, a, b):
        raise NotImplementedError

    def interpret(self, a, b):
        with np.errstate(all="ignore"):
            out = np.asarray(self.compute(a, b))
        return out.astype(self.z.type.element_type.numpy_dtype, copy=False)


@nn.constant_materializer
def materialize_constant(value: Attribute, type: Type, location=None):
    if isinstance(value, DenseElementsAttr) and value.type == type:
        return ConstantOp(result_types=[type], properties={"value": value}, location=location)
    return None
