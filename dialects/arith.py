"""The arith dialect: constants and scalar / elementwise arithmetic, with folds.

Each op works on a scalar (`f32`, `i32`, `index`) or elementwise on a tensor of one, like MLIR's
arith. The binary ops share one shape, so they are declared from a table (name, numpy function,
algebraic identities) rather than written out one by one; each table row is still one op class
with its own name, docstring and folds.
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.attributes import (Attribute, DenseElementsAttr, FloatAttr, IntegerAttr,
                                        OpaqueAttr)
from lamina.compiler.opdef import (Attr, Commutative, ConstantLike, Dialect, Elementwise, Op,
                                   Operand, Pure, Result, SameOperandsAndResultType,
                                   TypeConstraint)
from lamina.compiler.printer import CustomForm
from lamina.compiler.rewrite import RewritePattern
from lamina.compiler.types import (FloatType, RankedTensorType, Type, element_type_of, i1,
                                   is_float_like, is_integer_like)

arith = Dialect("arith", "Constants and scalar or elementwise arithmetic.")
arith.opaque_attributes |= {"fastmath", "overflow"}  # flags as MLIR and xDSL print them

float_like = TypeConstraint("a float or a tensor of floats", is_float_like)
integer_like = TypeConstraint("an integer, index, or a tensor of them", is_integer_like)
bool_like = TypeConstraint("i1 or a tensor of i1", lambda t: element_type_of(t) == i1)


# ---------------------------------------------------------------------------------------------
# Constants: the bridge between attributes (what folds compute) and values (what ops read)


def attr_to_array(attr: Attribute) -> np.ndarray | None:
    """The numpy value of a constant attribute, or None if it is not a number or tensor."""
    if isinstance(attr, DenseElementsAttr):
        return attr.array
    if isinstance(attr, (IntegerAttr, FloatAttr)) and hasattr(attr.type, "numpy_dtype"):
        return np.asarray(attr.value, dtype=attr.type.numpy_dtype)
    return None


def array_to_attr(array: np.ndarray, type: Type) -> Attribute:
    """A constant attribute of `type` holding `array` (a 0-d array for scalar types)."""
    if isinstance(type, RankedTensorType):
        return DenseElementsAttr(type, np.asarray(array))
    if isinstance(type, FloatType):
        return FloatAttr(float(array), type)
    return IntegerAttr(int(array), type)


@arith.op
class ConstantOp(Op):
    """A constant scalar or tensor.

        %c = arith.constant 1.000000e+00 : f32
        %w = arith.constant dense<[1, 2, 3]> : tensor<3xi32>
    """

    name = "arith.constant"
    value = Attr((IntegerAttr, FloatAttr, DenseElementsAttr))
    result = Result()
    traits = (Pure, ConstantLike)

    @classmethod
    def from_attr(cls, value: Attribute, location=None) -> "ConstantOp":
        return cls(result_types=[value.type], properties={"value": value}, location=location)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return [properties["value"].type]

    def verify(self):
        if self.value.type != self.result.type:
            return f"value has type {self.value.type} but the result has type {self.result.type}"

    def fold(self):
        return self.value

    def interpret(self):
        return attr_to_array(self.value)

    def print_custom(self, p):
        return CustomForm(attribute=self.value, attr_dict=self.attributes or None,
                          types=[self.result.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "attribute", "attr_dict", "types", required=("attribute", "types"))
        (type,) = parser.types_of(form, count=1)
        value = parser.typed_attribute(form, type)
        return cls(result_types=[type], properties={"value": value}, attributes=form.attr_dict or {})


@arith.constant_materializer
def materialize_constant(value: Attribute, type: Type, location=None):
    if attr_to_array(value) is None or value.type != type:
        return None
    return ConstantOp.from_attr(value, location)


# ---------------------------------------------------------------------------------------------
# Elementwise ops, declared from tables


class _ElementwiseOp(Op):
    """Shared behaviour of arith's elementwise ops: custom form, interpret, constant folding."""

    numpy_fn = None
    identities: tuple = ()  # (side, value, kind): x op value -> x ("operand") or value ("constant")

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return [operand_types[0]]

    def interpret(self, *args):
        out = type(self).numpy_fn(*args)
        return np.asarray(out, dtype=self.result.type.element_type.numpy_dtype
                          if isinstance(self.result.type, RankedTensorType)
                          else self.result.type.numpy_dtype)

    def fold(self, *operands):
        if all(c is not None for c in operands):
            arrays = [attr_to_array(c) for c in operands]
            if any(a is None for a in arrays):
                return None
            with np.errstate(all="ignore"):
                return array_to_attr(self.interpret(*arrays), self.result.type)
        return self.fold_identities(operands)

    def fold_identities(self, operands):
        for side, value, kind in self.identities:
            const = operands[side]
            arr = attr_to_array(const) if const is not None else None
            if arr is None or not (np.all(arr == value) and np.all(np.signbit(arr) == np.signbit(value))):
                continue
            return self.operands[1 - side] if kind == "operand" else None
        return None

    def print_custom(self, p):
        if self.properties:  # fast-math flags have no place in the pretty form
            return None
        return CustomForm(operands=list(self.operands), attr_dict=self.attributes or None,
                          types=[self.result.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "attr_dict", "types", required=("operands", "types"))
        (type,) = parser.types_of(form, count=1)
        values = parser.operands_of_type(form, type)
        return cls(operands=values, result_types=[type], attributes=form.attr_dict or {})


def _binary(op_name, fn, constraint, summary, commutative=False, identities=(), overflow_flags=False):
    traits = (Pure, Elementwise, SameOperandsAndResultType) + ((Commutative,) if commutative else ())
    short = op_name.split(".")[1]
    fields = {
        "__doc__": f"{summary}\n\n        %2 = {op_name} %0, %1 : tensor<4x{'f32' if constraint is float_like else 'i32'}>\n    ",
        "name": op_name,
        "lhs": Operand(constraint),
        "rhs": Operand(constraint),
        "result": Result(constraint),
        "traits": traits,
        "numpy_fn": staticmethod(fn),
        "identities": identities,
    }
    if constraint is float_like:
        fields["fastmath"] = Attr(OpaqueAttr, optional=True, doc="fast-math flags, as xDSL writes them")
    if overflow_flags:
        fields["overflowFlags"] = Attr(OpaqueAttr, optional=True, doc="nsw/nuw flags, as xDSL writes them")
    cls = type(short.capitalize() + "Op", (_ElementwiseOp,), fields)
    return arith.op(cls)


def _unary(op_name, fn, constraint, summary):
    short = op_name.split(".")[1]
    fields = {
        "__doc__": f"{summary}\n\n        %1 = {op_name} %0 : tensor<4xf32>\n    ",
        "name": op_name,
        "operand": Operand(constraint),
        "result": Result(constraint),
        "traits": (Pure, Elementwise, SameOperandsAndResultType),
        "numpy_fn": staticmethod(fn),
    }
    if constraint is float_like:
        fields["fastmath"] = Attr(OpaqueAttr, optional=True, doc="fast-math flags, as xDSL writes them")
    return arith.op(type(short.capitalize() + "Op", (_ElementwiseOp,), fields))


def _int_div(a, b):  # C semantics: truncate toward zero; division by zero is undefined (0 here)
    with np.errstate(all="ignore"):
        q = np.where(b == 0, 0, np.abs(a) // np.where(b == 0, 1, np.abs(b)))
    return np.where((a < 0) != (b < 0), -q, q)


def _int_rem(a, b):
    return a - _int_div(a, b) * b


# name, numpy, constraint, summary, commutative, identities (operand index, value, result)
AddFOp = _binary("arith.addf", np.add, float_like, "Floating-point addition.", True,
                 ((1, -0.0, "operand"), (0, -0.0, "operand")))  # x + -0.0 -> x
SubFOp = _binary("arith.subf", np.subtract, float_like, "Floating-point subtraction.",
                 identities=((1, 0.0, "operand"),))  # x - 0.0 -> x
MulFOp = _binary("arith.mulf", np.multiply, float_like, "Floating-point multiplication.", True,
                 ((1, 1.0, "operand"), (0, 1.0, "operand")))  # x * 1.0 -> x
DivFOp = _binary("arith.divf", np.divide, float_like, "Floating-point division.",
                 identities=((1, 1.0, "operand"),))  # x / 1.0 -> x
MaximumFOp = _binary("arith.maximumf", np.maximum, float_like, "Floating-point maximum (NaN wins).", True)
MinimumFOp = _binary("arith.minimumf", np.minimum, float_like, "Floating-point minimum (NaN wins).", True)
AddIOp = _binary("arith.addi", np.add, integer_like, "Integer addition (wrapping).", True,
                 ((1, 0, "operand"), (0, 0, "operand")), overflow_flags=True)  # x + 0 -> x
SubIOp = _binary("arith.subi", np.subtract, integer_like, "Integer subtraction (wrapping).",
                 identities=((1, 0, "operand"),), overflow_flags=True)  # x - 0 -> x
MulIOp = _binary("arith.muli", np.multiply, integer_like, "Integer multiplication (wrapping).", True,
                 ((1, 1, "operand"), (0, 1, "operand")), overflow_flags=True)  # x * 1 -> x
DivSIOp = _binary("arith.divsi", _int_div, integer_like, "Signed integer division, rounding toward zero.",
                  identities=((1, 1, "operand"),))  # x / 1 -> x
RemSIOp = _binary("arith.remsi", _int_rem, integer_like, "Signed remainder, with the sign of the dividend.")
MaxSIOp = _binary("arith.maxsi", np.maximum, integer_like, "Signed integer maximum.", True)
MinSIOp = _binary("arith.minsi", np.minimum, integer_like, "Signed integer minimum.", True)
AndIOp = _binary("arith.andi", np.bitwise_and, integer_like, "Bitwise and.", True)
OrIOp = _binary("arith.ori", np.bitwise_or, integer_like, "Bitwise or.", True,
                ((1, 0, "operand"), (0, 0, "operand")))  # x | 0 -> x
XOrIOp = _binary("arith.xori", np.bitwise_xor, integer_like, "Bitwise exclusive or.", True,
                 ((1, 0, "operand"), (0, 0, "operand")))  # x ^ 0 -> x
NegFOp = _unary("arith.negf", np.negative, float_like, "Floating-point negation.")


class NegNegIsIdentity(RewritePattern):
    """negf(negf(x)) -> x"""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, NegFOp):
            return False
        inner = op.operand.owner if hasattr(op.operand, "op") else None
        if not isinstance(inner, NegFOp):
            return False
        rewriter.replace_op(op, [inner.operand])
        return True


NegFOp.canonicalization_patterns = (NegNegIsIdentity(),)


class SubISelfIsZero(RewritePattern):
    """subi(x, x) -> constant 0"""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, SubIOp) or op.lhs is not op.rhs:
            return False
        zero = array_to_attr(np.zeros((), _dtype_of(op.result.type)), op.result.type)
        const = rewriter.insert_before(op, ConstantOp.from_attr(zero, op.location))
        rewriter.replace_op(op, [const.result])
        return True


SubIOp.canonicalization_patterns = (SubISelfIsZero(),)


def _dtype_of(t: Type) -> np.dtype:
    return element_type_of(t).numpy_dtype


# ---------------------------------------------------------------------------------------------
# Comparison and selection


CMPI_PREDICATES = ("eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge")
_CMPI_FNS = (np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
             np.less, np.less_equal, np.greater, np.greater_equal)


def _with_i1(t: Type) -> Type:
    return RankedTensorType(t.shape, i1) if isinstance(t, RankedTensorType) else i1


@arith.op
class CmpIOp(Op):
    """Integer comparison; the predicate is MLIR's number (0 = eq, 2 = slt, ...).

        %b = arith.cmpi slt, %x, %y : i32
    """

    name = "arith.cmpi"
    predicate = Attr(IntegerAttr)
    lhs = Operand(integer_like)
    rhs = Operand(integer_like)
    result = Result(bool_like)
    traits = (Pure, Elementwise)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return [_with_i1(operand_types[0])]

    def verify(self):
        if not 0 <= self.predicate.value < len(CMPI_PREDICATES):
            return f"predicate {self.predicate.value} is not one of 0..{len(CMPI_PREDICATES) - 1}"
        if self.lhs.type != self.rhs.type:
            return f"compares {self.lhs.type} with {self.rhs.type}; the operand types must match"
        if self.result.type != _with_i1(self.lhs.type):
            return f"result must be {_with_i1(self.lhs.type)}, not {self.result.type}"

    def interpret(self, lhs, rhs):
        p = self.predicate.value
        if CMPI_PREDICATES[p].startswith("u"):
            lhs, rhs = lhs.astype(np.uint64), rhs.astype(np.uint64)
        return _CMPI_FNS[p](lhs, rhs)

    def fold(self, lhs, rhs):
        if lhs is not None and rhs is not None:
            return array_to_attr(self.interpret(attr_to_array(lhs), attr_to_array(rhs)), self.result.type)
        return None

    def print_custom(self, p):
        return CustomForm(keyword=CMPI_PREDICATES[self.predicate.value], operands=list(self.operands),
                          attr_dict=self.attributes or None, types=[self.lhs.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "keyword", "operands", "attr_dict", "types", required=("keyword", "operands", "types"))
        if form.keyword not in CMPI_PREDICATES:
            parser.fail_form(form, f"unknown predicate '{form.keyword}'",
                             hint=f"one of {', '.join(CMPI_PREDICATES)}")
        (type,) = parser.types_of(form, count=1)
        lhs, rhs = parser.operands_of_type(form, type, count=2)
        return cls(operands=[lhs, rhs], result_types=[_with_i1(type)], attributes=form.attr_dict or {},
                   properties={"predicate": IntegerAttr(CMPI_PREDICATES.index(form.keyword))})


@arith.op
class SelectOp(Op):
    """Pick from `true_value` where `condition` holds, else from `false_value`.

        %r = "arith.select"(%c, %a, %b) : (tensor<4xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    """

    name = "arith.select"
    condition = Operand(bool_like)
    true_value = Operand()
    false_value = Operand()
    result = Result()
    traits = (Pure, Elementwise)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return [operand_types[1]]

    def verify(self):
        if not (self.true_value.type == self.false_value.type == self.result.type):
            return "true_value, false_value and the result must have the same type"

    def interpret(self, condition, true_value, false_value):
        return np.where(condition, true_value, false_value)

    def fold(self, condition, true_value, false_value):
        if self.true_value is self.false_value:
            return self.true_value  # select(c, x, x) -> x
        if condition is not None:
            arr = attr_to_array(condition)
            if arr is not None and arr.size and np.all(arr == arr.reshape(-1)[0]):
                return self.true_value if arr.reshape(-1)[0] else self.false_value
        return None

