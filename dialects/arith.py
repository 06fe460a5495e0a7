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
from lamina.compiler.printer import CastForm, CustomForm
from lamina.compiler.rewrite import RewritePattern
from lamina.compiler.types import (FloatType, IndexType, IntegerType, RankedTensorType, Type,
                                   element_type_of, i1, is_float_like, is_integer_like)

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


class ElementwiseOp(Op):
    """Shared behaviour of elementwise ops (arith's, math's): custom form, interpret, constant
    folding."""

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
    cls = type(short.capitalize() + "Op", (ElementwiseOp,), fields)
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
    return arith.op(type(short.capitalize() + "Op", (ElementwiseOp,), fields))


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


class _CompareOp(Op):
    """What arith.cmpi and arith.cmpf share: a predicate numbered as MLIR numbers it (its
    keyword is `predicates[n]`), two operands of one type, an i1 result of their shape, and the
    custom form `arith.cmpX keyword, %a, %b : type`."""

    predicates: tuple[str, ...] = ()

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return [_with_i1(operand_types[0])]

    def verify(self):
        if not 0 <= self.predicate.value < len(self.predicates):
            return f"predicate {self.predicate.value} is not one of 0..{len(self.predicates) - 1}"
        if self.lhs.type != self.rhs.type:
            return f"compares {self.lhs.type} with {self.rhs.type}; the operand types must match"
        if self.result.type != _with_i1(self.lhs.type):
            return f"result must be {_with_i1(self.lhs.type)}, not {self.result.type}"

    def fold(self, lhs, rhs):
        if lhs is not None and rhs is not None:
            return array_to_attr(self.interpret(attr_to_array(lhs), attr_to_array(rhs)), self.result.type)
        return None

    def print_custom(self, p):
        if getattr(self, "fastmath", None) is not None:  # cmpf's flags have no place in the pretty form
            return None
        return CustomForm(keyword=self.predicates[self.predicate.value], operands=list(self.operands),
                          attr_dict=self.attributes or None, types=[self.lhs.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "keyword", "operands", "attr_dict", "types", required=("keyword", "operands", "types"))
        if form.keyword not in cls.predicates:
            parser.fail_form(form, f"unknown predicate '{form.keyword}'",
                             hint=f"one of {', '.join(cls.predicates)}")
        (type,) = parser.types_of(form, count=1)
        lhs, rhs = parser.operands_of_type(form, type, count=2)
        return cls(operands=[lhs, rhs], result_types=[_with_i1(type)], attributes=form.attr_dict or {},
                   properties={"predicate": IntegerAttr(cls.predicates.index(form.keyword))})


@arith.op
class CmpIOp(_CompareOp):
    """Integer comparison; the predicate is MLIR's number (0 = eq, 2 = slt, ...).

        %b = arith.cmpi slt, %x, %y : i32
    """

    name = "arith.cmpi"
    predicates = CMPI_PREDICATES
    predicate = Attr(IntegerAttr)
    lhs = Operand(integer_like)
    rhs = Operand(integer_like)
    result = Result(bool_like)
    traits = (Pure, Elementwise)

    def interpret(self, lhs, rhs):
        p = self.predicate.value
        if CMPI_PREDICATES[p].startswith("u"):
            lhs, rhs = lhs.astype(np.uint64), rhs.astype(np.uint64)
        return _CMPI_FNS[p](lhs, rhs)


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


CMPF_PREDICATES = ("false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord",
                   "ueq", "ugt", "uge", "ult", "ule", "une", "uno", "true")
_CMPF_FNS = {"eq": np.equal, "gt": np.greater, "ge": np.greater_equal, "lt": np.less,
             "le": np.less_equal, "ne": np.not_equal}


@arith.op
class CmpFOp(_CompareOp):
    """Floating-point comparison; the predicate is MLIR's number (0 = false, 4 = olt, ...).
    Ordered predicates (`o..`) are false when an operand is NaN, unordered ones (`u..`) true.

        %b = arith.cmpf olt, %x, %y : f32
    """

    name = "arith.cmpf"
    predicates = CMPF_PREDICATES
    predicate = Attr(IntegerAttr)
    lhs = Operand(float_like)
    rhs = Operand(float_like)
    result = Result(bool_like)
    fastmath = Attr(OpaqueAttr, optional=True, doc="fast-math flags, as xDSL writes them")
    traits = (Pure, Elementwise)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if str(self.properties.get("fastmath")) == "#arith.fastmath<none>":  # the default, which
            del self.properties["fastmath"]  # xDSL writes after the predicate: kept out, the IR is the same

    def interpret(self, lhs, rhs):
        name = CMPF_PREDICATES[self.predicate.value]
        unordered = np.isnan(lhs) | np.isnan(rhs)
        if name in ("false", "true"):
            return np.full(np.shape(unordered), name == "true")
        if name in ("ord", "uno"):
            return ~unordered if name == "ord" else unordered
        with np.errstate(invalid="ignore"):
            holds = _CMPF_FNS[name[1:]](lhs, rhs)
        return (holds & ~unordered) if name[0] == "o" else (holds | unordered)


# ---------------------------------------------------------------------------------------------
# More binary ops: what loop code needs (index arithmetic, unsigned ops, NaN-ignoring max/min)


def _unsigned(fn):
    """`fn` on the operands' bits read as unsigned integers, the result in the operands' dtype."""
    def on_bits(a, b):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype == np.bool_:
            return fn(a, b).astype(np.bool_)
        u = np.dtype(f"u{a.dtype.itemsize}")
        return np.asarray(fn(a.astype(u), b.astype(u))).astype(a.dtype)
    return on_bits


def _floor_div(a, b):  # rounding toward -inf; division by zero is undefined (0 here)
    with np.errstate(all="ignore"):
        return np.where(b == 0, 0, np.floor_divide(a, np.where(b == 0, 1, b)))


def _ceil_div(a, b):  # rounding toward +inf
    return -_floor_div(-a, b)


def _shift(fn):
    def shifted(a, b):  # a shift by the bit width or more is poison in MLIR: 0 here
        width = np.asarray(a).dtype.itemsize * 8
        return np.where((b < 0) | (b >= width), 0, fn(a, np.clip(b, 0, width - 1)))
    return shifted


RemFOp = _binary("arith.remf", np.fmod, float_like, "Floating-point remainder, with the sign of the dividend (C's fmod).")
MaxNumFOp = _binary("arith.maxnumf", np.fmax, float_like, "Floating-point maximum (a NaN operand loses).", True)
MinNumFOp = _binary("arith.minnumf", np.fmin, float_like, "Floating-point minimum (a NaN operand loses).", True)
FloorDivSIOp = _binary("arith.floordivsi", _floor_div, integer_like, "Signed integer division, rounding toward -inf.",
                       identities=((1, 1, "operand"),))  # x / 1 -> x
CeilDivSIOp = _binary("arith.ceildivsi", _ceil_div, integer_like, "Signed integer division, rounding toward +inf.",
                      identities=((1, 1, "operand"),))  # x / 1 -> x
DivUIOp = _binary("arith.divui", _unsigned(lambda a, b: _floor_div(a, b)), integer_like,
                  "Unsigned integer division.", identities=((1, 1, "operand"),))  # x / 1 -> x
RemUIOp = _binary("arith.remui", _unsigned(lambda a, b: a - _floor_div(a, b) * b), integer_like, "Unsigned remainder.")
MaxUIOp = _binary("arith.maxui", _unsigned(np.maximum), integer_like, "Unsigned integer maximum.", True)
MinUIOp = _binary("arith.minui", _unsigned(np.minimum), integer_like, "Unsigned integer minimum.", True)
ShLIOp = _binary("arith.shli", _shift(np.left_shift), integer_like, "Shift left.",
                 identities=((1, 0, "operand"),), overflow_flags=True)  # x << 0 -> x
ShRSIOp = _binary("arith.shrsi", _shift(np.right_shift), integer_like, "Arithmetic (sign-filling) shift right.",
                  identities=((1, 0, "operand"),))  # x >> 0 -> x
ShRUIOp = _binary("arith.shrui", _unsigned(_shift(np.right_shift)), integer_like, "Logical (zero-filling) shift right.",
                  identities=((1, 0, "operand"),))  # x >> 0 -> x


# ---------------------------------------------------------------------------------------------
# Casts: one value to another type, elementwise. The custom form names both types:
#     %r = arith.index_cast %i : index to i32


def _same_shape_as(t: Type, element: Type) -> Type:
    return RankedTensorType(t.shape, element) if isinstance(t, RankedTensorType) else element


class _CastOp(CastForm, Op):
    """Shared behaviour of the casts: a rule on the two element types, numpy semantics, folds."""

    traits = (Pure, Elementwise)
    rule = ""  # the rule on (source, result) element types, in words, for the verifier
    unsigned_source = False  # uitofp, extui: the operand's bits are read as an unsigned number

    @staticmethod
    def allowed(source: Type, result: Type) -> bool:
        raise NotImplementedError

    def verify(self):
        source, result = self.input.type, self.result.type
        if isinstance(source, RankedTensorType) != isinstance(result, RankedTensorType) or \
                (isinstance(source, RankedTensorType) and source.shape != result.shape):
            return f"casts {source} to {result}; the shapes must match"
        if not self.allowed(element_type_of(source), element_type_of(result)):
            return f"cannot cast {source} to {result}: {self.rule}"

    def interpret(self, value):
        array = np.asarray(value)
        if self.unsigned_source and array.dtype != np.bool_:
            array = array.astype(np.dtype(f"u{array.dtype.itemsize}"))
        with np.errstate(all="ignore"):
            return array.astype(_dtype_of(self.result.type))

    def fold(self, value):
        array = attr_to_array(value) if value is not None else None
        if array is None:
            return None
        return array_to_attr(self.interpret(array), self.result.type)


def _cast(op_name, summary, rule, allowed, fastmath=False, unsigned_source=False):
    fields = {
        "unsigned_source": unsigned_source,
        "__doc__": f"{summary}\n\n        %r = {op_name} %x : {_CAST_EXAMPLES[op_name]}\n    ",
        "name": op_name,
        "input": Operand(),
        "result": Result(),
        "rule": rule,
        "allowed": staticmethod(allowed),
    }
    if fastmath:
        fields["fastmath"] = Attr(OpaqueAttr, optional=True, doc="fast-math flags, as xDSL writes them")
    name = "".join(part.capitalize() for part in op_name.split(".")[1].split("_")) + "Op"
    return arith.op(type(name, (_CastOp,), fields))


_CAST_EXAMPLES = {"arith.index_cast": "index to i32", "arith.sitofp": "i32 to f32", "arith.uitofp": "i32 to f32",
                  "arith.fptosi": "f32 to i32", "arith.fptoui": "f32 to i32", "arith.extf": "f16 to f32",
                  "arith.truncf": "f32 to f16", "arith.extsi": "i8 to i32", "arith.extui": "i8 to i32",
                  "arith.trunci": "i32 to i8"}


def _is_int(t):
    return isinstance(t, IntegerType)


def _is_float(t):
    return isinstance(t, FloatType)


IndexCastOp = _cast("arith.index_cast", "Convert between index and an integer type (sign-extending or truncating).",
                    "one side must be index and the other an integer",
                    lambda s, r: isinstance(s, IndexType) and _is_int(r) or _is_int(s) and isinstance(r, IndexType))
SIToFPOp = _cast("arith.sitofp", "Signed integer to float, rounding to nearest.",
                 "from an integer to a float", lambda s, r: _is_int(s) and _is_float(r))
UIToFPOp = _cast("arith.uitofp", "Unsigned integer to float, rounding to nearest.",
                 "from an integer to a float", lambda s, r: _is_int(s) and _is_float(r), unsigned_source=True)
FPToSIOp = _cast("arith.fptosi", "Float to signed integer, rounding toward zero.",
                 "from a float to an integer", lambda s, r: _is_float(s) and _is_int(r))
FPToUIOp = _cast("arith.fptoui", "Float to unsigned integer, rounding toward zero.",
                 "from a float to an integer", lambda s, r: _is_float(s) and _is_int(r))
ExtFOp = _cast("arith.extf", "Widen a float (exact).", "to a wider float",
               lambda s, r: _is_float(s) and _is_float(r) and s.width < r.width, fastmath=True)
TruncFOp = _cast("arith.truncf", "Narrow a float, rounding to nearest.", "to a narrower float",
                 lambda s, r: _is_float(s) and _is_float(r) and s.width > r.width, fastmath=True)
ExtSIOp = _cast("arith.extsi", "Widen an integer, copying the sign bit.", "to a wider integer",
                lambda s, r: _is_int(s) and _is_int(r) and s.width < r.width)
ExtUIOp = _cast("arith.extui", "Widen an integer with zeros.", "to a wider integer",
                lambda s, r: _is_int(s) and _is_int(r) and s.width < r.width, unsigned_source=True)
TruncIOp = _cast("arith.trunci", "Narrow an integer, keeping the low bits.", "to a narrower integer",
                 lambda s, r: _is_int(s) and _is_int(r) and s.width > r.width)

