"""The executor: ops that depend only on constants run once at compile time; the rest are kernels."""

import numpy as np

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
