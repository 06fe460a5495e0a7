"""Exact text of every type and attribute kind (MLIR's spelling), and equality and hashing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lamina.compiler.attributes import (ArrayAttr, BoolAttr, DenseArrayAttr, DenseElementsAttr,
                                        DictionaryAttr, FloatAttr, IntegerAttr, OpaqueAttr,
                                        StringAttr, SymbolRefAttr, TypeAttr, UnitAttr,
                                        format_float)
from lamina.compiler.location import FileLineColLoc, FusedLoc, NameLoc, UnknownLoc
from lamina.compiler.parser import parse
from lamina.compiler.types import (FunctionType, IndexType, IntegerType, NoneType, OpaqueType,
                                   RankedTensorType, bf16, f16, f32, f64, i1, i8, i16, i32, i64,
                                   index, none, tensor)

# -- types --------------------------------------------------------------------------------------


@pytest.mark.parametrize("t, text", [
    (i1, "i1"), (i8, "i8"), (i16, "i16"), (i32, "i32"), (i64, "i64"),
    (IntegerType(8, "s"), "si8"), (IntegerType(16, "u"), "ui16"), (IntegerType(3), "i3"),
    (f16, "f16"), (bf16, "bf16"), (f32, "f32"), (f64, "f64"), (index, "index"), (none, "none"),
    (tensor(2, None, f32), "tensor<2x?xf32>"), (tensor(i1), "tensor<i1>"),
    (tensor(0, 3, bf16), "tensor<0x3xbf16>"), (tensor(None, index), "tensor<?xindex>"),
    (RankedTensorType((4,), f32, StringAttr("sparse")), 'tensor<4xf32, "sparse">'),
    (FunctionType((i32,), (f32, f32)), "(i32) -> (f32, f32)"),
    (FunctionType((i32, f32), (f32,)), "(i32, f32) -> f32"),
    (FunctionType((), ()), "() -> ()"),
    (FunctionType((), (FunctionType((i1,), (i1,)),)), "() -> ((i1) -> i1)"),
    (FunctionType((FunctionType((), ()),), ()), "(() -> ()) -> ()"),
    (OpaqueType("test", "t", "<4, f32>"), "!test.t<4, f32>"), (OpaqueType("llvm", "ptr"), "!llvm.ptr"),
    (OpaqueType("foo", "", "<x>"), "!foo<x>"),
])
def test_type_text(t, text):
    assert str(t) == text


def test_types_compare_and_hash_by_content():
    assert tensor(2, None, f32) == RankedTensorType([2, None], f32)  # the shape becomes a tuple
    assert hash(tensor(2, None, f32)) == hash(RankedTensorType((2, None), f32))
    assert tensor(2, f32) != tensor(2, f64)
    assert tensor(2, f32) != RankedTensorType((2,), f32, StringAttr("sparse"))
    assert IntegerType(8) != IntegerType(8, "s")
    assert bf16 != f16 and bf16.width == f16.width == 16
    assert FunctionType([i32], [f32]) == FunctionType((i32,), (f32,))
    assert len({i32, IntegerType(32), IndexType(), index, NoneType(), none}) == 3
    assert tensor(2, None, f32).rank == 2 and not tensor(2, None, f32).has_static_shape
    assert tensor(2, 3, f32).num_elements == 6 and tensor(f32).num_elements == 1


# -- scalar attributes ------------------------------------------------------------------------------


@pytest.mark.parametrize("attr, text", [
    (IntegerAttr(42, i32), "42 : i32"), (IntegerAttr(-1), "-1 : i64"), (IntegerAttr(3, index), "3 : index"),
    (IntegerAttr(255, IntegerType(8, "u")), "255 : ui8"),
    (BoolAttr(True), "true"), (BoolAttr(False), "false"), (IntegerAttr(1, i1), "true"),
    (FloatAttr(1.0, f32), "1.000000e+00 : f32"), (FloatAttr(-0.0, f64), "-0.000000e+00 : f64"),
    (FloatAttr(0.5), "5.000000e-01 : f64"), (FloatAttr(1e-7, f64), "1.000000e-07 : f64"),
    (FloatAttr(0.1, f32), "1.000000e-01 : f32"),
    (FloatAttr(math.inf, f32), "0x7F800000 : f32"), (FloatAttr(-math.inf, f32), "0xFF800000 : f32"),
    (FloatAttr(math.nan, f32), "0x7FC00000 : f32"), (FloatAttr(math.inf, f64), "0x7FF0000000000000 : f64"),
    (FloatAttr(math.inf, f16), "0x7C00 : f16"), (FloatAttr(math.inf, bf16), "0x7F80 : bf16"),
    (FloatAttr(65504.0, f16), "6.550400e+04 : f16"), (FloatAttr(1.0, bf16), "1.000000e+00 : bf16"),
    (UnitAttr(), "unit"), (StringAttr("hi"), '"hi"'),
    (TypeAttr(tensor(2, f32)), "tensor<2xf32>"), (TypeAttr(FunctionType((i32,), (i32,))), "(i32) -> i32"),
    (SymbolRefAttr("main"), "@main"), (SymbolRefAttr("a", ("b", "c")), "@a::@b::@c"),
    (SymbolRefAttr("a b"), '@"a b"'), (SymbolRefAttr("x.y"), "@x.y"),
    (OpaqueAttr("arith", "fastmath", "<none>"), "#arith.fastmath<none>"),
])
def test_scalar_attribute_text(attr, text):
    assert str(attr) == text


@pytest.mark.parametrize("value, type, text", [
    (0.1, f64, "1.000000e-01"),                     # %e reads back exactly
    (0.123456789, f64, "1.23456789e-01"),           # it does not: the shortest exact form
    (1 / 3, f64, "3.333333333333333e-01"),
    (float(np.float32(1.0000001)), f32, "1.0000001192092896e+00"),
    (1e300, f64, "1.000000e+300"),
    (5e-324, f64, "4.940656e-324"),              # the smallest subnormal: %e is enough
    (2.2250738585072014e-308, f64, "2.2250738585072014e-308"),
    (123456.789, f64, "1.23456789e+05"),
    (2.0 ** -24, f16, "5.960464e-08"),
    (float(np.float16(0.1)), f16, "9.997559e-02"),
])
def test_float_spelling_is_exact(value, type, text):
    assert format_float(value, type) == text
    assert float(text) == np.asarray(value, type.numpy_dtype)  # and reads back to the same value


@pytest.mark.parametrize("s, text", [
    ("a\nb", '"a\\0Ab"'), ('q"', '"q\\""'), ("back\\", '"back\\\\"'), ("tab\t", '"tab\\09"'),
    ("\x00", '"\\00"'), ("\x7f", '"\\7F"'), ("é", '"\\C3\\A9"'), ("", '""'),
])
def test_string_escapes(s, text):
    assert str(StringAttr(s)) == text
    op = parse(f'"test.op"() {{s = {text}}} : () -> ()', allow_unregistered=True).block.first_op
    assert op.attributes["s"] == StringAttr(s)


# -- containers ----------------------------------------------------------------------------------


def test_container_text():
    assert str(ArrayAttr((IntegerAttr(1), StringAttr("a"), UnitAttr()))) == '[1 : i64, "a", unit]'
    assert str(ArrayAttr(())) == "[]"
    assert str(DenseArrayAttr(i64, (1, 2))) == "array<i64: 1, 2>"
    assert str(DenseArrayAttr(i32, ())) == "array<i32>"
    assert str(DenseArrayAttr(i1, (1, 0))) == "array<i1: true, false>"
    assert str(DenseArrayAttr(f32, (1.5, -0.0))) == "array<f32: 1.500000e+00, -0.000000e+00>"
    assert str(DictionaryAttr({"b": IntegerAttr(1), "a": UnitAttr()})) == "{a, b = 1 : i64}"
    assert str(DictionaryAttr({"a b": UnitAttr(), "x.y": BoolAttr(True), "": StringAttr("e")})) == \
        '{"" = "e", "a b", x.y = true}'
    assert str(DictionaryAttr({})) == "{}"


def test_container_equality_and_hash():
    assert DictionaryAttr({"a": UnitAttr(), "b": IntegerAttr(1)}) == DictionaryAttr({"b": IntegerAttr(1), "a": UnitAttr()})
    assert hash(DictionaryAttr({"a": UnitAttr(), "b": IntegerAttr(1)})) == \
        hash(DictionaryAttr({"b": IntegerAttr(1), "a": UnitAttr()}))
    assert ArrayAttr([IntegerAttr(1)]) == ArrayAttr((IntegerAttr(1),))
    assert ArrayAttr((IntegerAttr(1),)) != ArrayAttr((IntegerAttr(1, i32),))
    assert list(ArrayAttr((UnitAttr(), UnitAttr()))) == [UnitAttr(), UnitAttr()]
    assert DenseArrayAttr(i64, [1, 2]) == DenseArrayAttr(i64, (1, 2))


# -- dense elements ----------------------------------------------------------------------------------


def test_dense_splat_literal_and_nested_text():
    assert str(DenseElementsAttr(tensor(2, 2, f32), np.ones((2, 2)))) == "dense<1.000000e+00> : tensor<2x2xf32>"
    assert str(DenseElementsAttr(tensor(2, i32), [1, 2])) == "dense<[1, 2]> : tensor<2xi32>"
    assert str(DenseElementsAttr(tensor(2, 1, i8), [[1], [-2]])) == "dense<[[1], [-2]]> : tensor<2x1xi8>"
    assert str(DenseElementsAttr(tensor(3, i1), [True, False, True])) == "dense<[true, false, true]> : tensor<3xi1>"
    assert str(DenseElementsAttr(tensor(2, i1), [True, True])) == "dense<true> : tensor<2xi1>"
    assert str(DenseElementsAttr(tensor(i64), 7)) == "dense<7> : tensor<i64>"
    assert str(DenseElementsAttr(tensor(0, f32), [])) == "dense<> : tensor<0xf32>"
    assert str(DenseElementsAttr(tensor(2, f32), [math.inf, -0.0])) == "dense<[0x7F800000, -0.000000e+00]> : tensor<2xf32>"


def test_dense_hex_is_mlir_little_endian_layout():
    ones = DenseElementsAttr(tensor(101, f32), np.r_[np.ones(100), 2.0])
    assert str(ones) == 'dense<"0x' + "0000803F" * 100 + '00000040"> : tensor<101xf32>'
    ints = DenseElementsAttr(tensor(101, i32), np.arange(101))
    assert str(ints).startswith('dense<"0x000000000100000002000000')
    assert str(ints).endswith('64000000"> : tensor<101xi32>')
    assert str(DenseElementsAttr(tensor(101, i16), np.arange(101))).startswith('dense<"0x000001000200')
    assert str(DenseElementsAttr(tensor(101, f64), np.r_[np.ones(100), 0.0])).startswith('dense<"0x000000000000F03F000000000000F03F')
    assert str(DenseElementsAttr(tensor(101, f16), np.r_[np.ones(100), 0.0])).startswith('dense<"0x003C003C')
    assert str(DenseElementsAttr(tensor(101, bf16), np.r_[np.ones(100), 0.0])).startswith('dense<"0x803F803F')
    assert str(DenseElementsAttr(tensor(101, i1), np.arange(101) % 2)).startswith('dense<"0x00010001')


def test_dense_hex_threshold_is_100_elements():
    hundred = DenseElementsAttr(tensor(100, i8), np.arange(100) % 7)
    assert str(hundred).startswith("dense<[0, 1, 2, 3, 4, 5, 6, 0, 1,")
    assert str(DenseElementsAttr(tensor(101, i8), np.arange(101) % 7)).startswith('dense<"0x00010203040506000102')
    assert hundred.format(hex_threshold=10).startswith('dense<"0x0001')
    assert hundred.format(elide_threshold=50) == "dense_resource<__elided__> : tensor<100xi8>"


def test_dense_hex_parses_to_the_same_data():
    data = np.arange(200, dtype=np.float32) / 3
    attr = DenseElementsAttr(tensor(2, 100, f32), data.reshape(2, 100))
    op = parse(f'"test.op"() {{v = {attr}}} : () -> ()', allow_unregistered=True).block.first_op
    assert op.attributes["v"] == attr
    assert np.array_equal(op.attributes["v"].array, data.reshape(2, 100))
    # one element's worth of hex is a splat, as in MLIR
    splat = parse('"test.op"() {v = dense<"0x0000803F"> : tensor<3xf32>} : () -> ()',
                  allow_unregistered=True).block.first_op.attributes["v"]
    assert splat == DenseElementsAttr(tensor(3, f32), np.ones(3)) and splat.is_splat


def test_dense_equality_is_by_bytes():
    a = DenseElementsAttr(tensor(2, f32), [0.0, 1.0])
    assert a == DenseElementsAttr(tensor(2, f32), np.array([0.0, 1.0], np.float64))
    assert hash(a) == hash(DenseElementsAttr(tensor(2, f32), [0.0, 1.0]))
    assert a != DenseElementsAttr(tensor(2, f32), [-0.0, 1.0])         # -0.0 is other bits
    assert a != DenseElementsAttr(tensor(2, f64), [0.0, 1.0])
    nan = DenseElementsAttr(tensor(1, f32), [math.nan])
    assert nan == DenseElementsAttr(tensor(1, f32), [math.nan])         # same bits, equal
    assert not a.array.flags.writeable


# -- float and integer equality --------------------------------------------------------------------


def test_float_attr_equality_is_by_bits():
    assert FloatAttr(math.nan, f32) == FloatAttr(math.nan, f32)
    assert hash(FloatAttr(math.nan, f32)) == hash(FloatAttr(math.nan, f32))
    assert FloatAttr(0.0, f32) != FloatAttr(-0.0, f32)
    assert FloatAttr(1.0, f32) != FloatAttr(1.0, f64)
    assert FloatAttr(0.1, f32) == FloatAttr(float(np.float32(0.1)), f32)  # rounded to the type
    assert FloatAttr(0.1, f32).value == float(np.float32(0.1))
    assert IntegerAttr(1, i1) == BoolAttr(True) and IntegerAttr(1, i32) != IntegerAttr(1, i64)


def test_dense_array_float_equality_is_by_bits():
    assert DenseArrayAttr(f32, (0.0,)) != DenseArrayAttr(f32, (-0.0,))
    assert DenseArrayAttr(f32, (math.nan,)) == DenseArrayAttr(f32, (float("nan"),))


# -- locations ---------------------------------------------------------------------------------------


def test_location_text():
    assert str(UnknownLoc()) == "loc(unknown)"
    assert str(NameLoc("conv1")) == 'loc("conv1")'
    assert str(FileLineColLoc("f.mlir", 3, 7)) == 'loc("f.mlir":3:7)'
    assert str(NameLoc("n", FileLineColLoc("m.onnx", 0, 0))) == 'loc("n"("m.onnx":0:0))'
    assert str(FusedLoc((NameLoc("a"), UnknownLoc()))) == 'loc(fused["a", unknown])'
    assert NameLoc("a") == NameLoc("a") and hash(NameLoc("a")) == hash(NameLoc("a"))
