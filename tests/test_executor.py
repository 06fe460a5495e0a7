"""The executor: ops that depend only on constants run once at compile time; the rest are kernels."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lamina
from lamina.compiler.parser import parse
from lamina.compiler.verifier import verify
from lamina.runtime.executor import compile
from lamina.runtime.interpreter import interpret

SHAPE_GLUE = """
func.func @main(%x: tensor<2x3xf32>) -> (tensor<2xi64>, tensor<2x3xf32>) {
  %s = nn.shape %x : (tensor<2x3xf32>) -> tensor<2xi64>
  %c = nn.constant attributes {value = dense<[2, 3]> : tensor<2xi64>} : () -> tensor<2xi64>
  %f = nn.constant_of_shape %c attributes {value = dense<1.5> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<2x3xf32>
  %w = nn.transpose %f attributes {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %y = nn.add %x, %f : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %s, %y : tensor<2xi64>, tensor<2x3xf32>
}
"""


def test_constant_and_shape_ops_are_evaluated_at_compile_time(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(tmp_path))
    module = parse(SHAPE_GLUE)
    verify(module)
    model = compile(module)
    assert model.num_kernels == 1  # only nn.add reads the input
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    shape, y = model(x)
    np.testing.assert_array_equal(shape, [2, 3])
    np.testing.assert_array_equal(y, x + 1.5)
    for ours, reference in zip(model(x), interpret(module, x)):
        np.testing.assert_array_equal(ours, reference)


def test_nan_and_infinities_propagate_as_in_numpy(tmp_path, monkeypatch):
    """relu, clip, max and min keep NaN as numpy does (tir.max is LLVM's maxnum, which drops
    it: relu(NaN) was 0 compiled and NaN interpreted; found by check_pass -O3 --compile)."""
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(tmp_path))
    module = lamina.parse("""\
func.func @main(%x: tensor<6xf32>, %y: tensor<6xf32>) -> (tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) {
  %r = nn.relu %x : (tensor<6xf32>) -> tensor<6xf32>
  %c = nn.clip %x attributes {min = -1.0 : f32, max = 1.0 : f32} : (tensor<6xf32>) -> tensor<6xf32>
  %m = nn.max %x, %y : (tensor<6xf32>, tensor<6xf32>) -> tensor<6xf32>
  %n = nn.min %x, %y : (tensor<6xf32>, tensor<6xf32>) -> tensor<6xf32>
  func.return %r, %c, %m, %n : tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>
}
""")
    x = np.array([np.nan, -2, 0.5, 3, np.inf, -np.inf], np.float32)
    y = np.array([1, np.nan, 0.25, 5, 0, 0], np.float32)
    for level in (0, 3):
        got = lamina.compile(module, opt_level=level)(x, y)
        for expected, ours in zip(lamina.interpret(module, x, y), got):
            np.testing.assert_array_equal(ours, expected)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 4), cols=st.integers(1, 70), nans=st.lists(st.integers(0, 279), max_size=3),
       infinities=st.lists(st.integers(0, 279), max_size=3), seed=st.integers(0, 2**16))
def test_max_and_min_reductions_and_max_pools_propagate_nan(rows, cols, nans, infinities, seed, tmp_path,
                                                            monkeypatch):
    """reduce_max/min, max_pool2d and global_max_pool are NaN where a NaN (of either sign) is in
    what they reduce, as numpy's max, and order infinities and the pool's padding as the
    interpreter does (te.max kept a NaN only where the loop made it the last element; found by
    check_pass -O3 --compile on a pow of a negative base)."""
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(tmp_path))
    h, w = rows + 4, cols
    module = lamina.parse(f"""\
func.func @main(%x: tensor<1x{h}x{w}xf32>, %p: tensor<1x2x{h}x{w}xf32>) -> (tensor<1x{h}x1xf32>, tensor<1x1x{w}xf32>, tensor<1x2x{h}x{w}xf32>, tensor<1x2x1x1xf32>) {{
  %mx = nn.reduce_max %x attributes {{axes = array<i64: 2>}} : (tensor<1x{h}x{w}xf32>) -> tensor<1x{h}x1xf32>
  %mn = nn.reduce_min %x attributes {{axes = array<i64: 1>}} : (tensor<1x{h}x{w}xf32>) -> tensor<1x1x{w}xf32>
  %mp = nn.max_pool2d %p attributes {{kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>}} : (tensor<1x2x{h}x{w}xf32>) -> tensor<1x2x{h}x{w}xf32>
  %g = nn.global_max_pool %p : (tensor<1x2x{h}x{w}xf32>) -> tensor<1x2x1x1xf32>
  func.return %mx, %mn, %mp, %g : tensor<1x{h}x1xf32>, tensor<1x1x{w}xf32>, tensor<1x2x{h}x{w}xf32>, tensor<1x2x1x1xf32>
}}
""")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, h, w)).astype(np.float32)
    p = rng.standard_normal((1, 2, h, w)).astype(np.float32)
    for n, i in enumerate(infinities):
        x.flat[(3 * i) % x.size] = p.flat[(5 * i) % p.size] = np.inf if n % 2 else -np.inf
    for n, i in enumerate(nans):  # (a NaN with its sign bit set too)
        x.flat[i % x.size] = p.flat[(7 * i) % p.size] = -np.float32(np.nan) if n % 2 else np.nan
    got = lamina.compile(module)(x, p)
    for expected, ours in zip(lamina.interpret(module, x, p), got):
        np.testing.assert_array_equal(ours, expected)


def test_inputs_of_the_exact_type_pass_and_others_are_checked(tmp_path, monkeypatch):
    """An array of the parameter's dtype and shape is used as it is (the executor's fast path);
    a wrong dtype or shape is an error that names the input."""
    from lamina.runtime.interpreter import InterpreterError

    monkeypatch.setenv("LAMINA_CACHE_DIR", str(tmp_path))
    module = parse("""
func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = nn.relu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}""")
    verify(module)
    model = compile(module)
    x = np.array([[-1, 2, -3], [4, -5, 6]], dtype=np.float32)
    np.testing.assert_array_equal(model(x)[0], np.maximum(x, 0))
    np.testing.assert_array_equal(model(x.T.copy().T)[0], np.maximum(x, 0))  # not contiguous: copied in
    with pytest.raises(InterpreterError, match=r"has dtype float64 but the function expects tensor<2x3xf32>"):
        model(x.astype(np.float64))
    with pytest.raises(InterpreterError, match=r"has shape \[3, 2\] but the function expects tensor<2x3xf32>"):
        model(x.reshape(3, 2))
