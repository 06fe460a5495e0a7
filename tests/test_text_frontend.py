"""The text model language: IR text, numbers against numpy, the same IR as ONNX, every error a
user can make, and random chains of ops against numpy (hypothesis)."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lamina.compiler.errors import ParseError
from lamina.compiler.frontends.text import TextModelError, load_text
from lamina.compiler.location import FileLineColLoc, NameLoc
from lamina.compiler.parser import parse
from lamina.compiler.printer import print_ir
from lamina.compiler.verifier import verify
from lamina.runtime.interpreter import interpret

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "text"


def load(name: str):
    return load_text(EXAMPLES / f"{name}.lam", filename=f"{name}.lam")


def normal(seed, shape, std=1.0, mean=0.0):
    """What `init=normal(seed=.., mean=.., std=..)` computes."""
    return np.random.default_rng(seed).normal(mean, std, size=shape).astype(np.float32)


def uniform(seed, shape, low=0.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


def image(seed, shape):
    return np.random.default_rng(100 + seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The examples


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.lam")), ids=lambda p: p.stem)
def test_every_example_imports_verifies_and_round_trips(path):
    module = load_text(path)
    verify(module)
    assert print_ir(parse(print_ir(module))) == print_ir(module)
    fn = module.block.first_op
    assert fn.sym_name.value == "main" and module.sym_name.value == path.stem
    assert {op.name.split(".")[0] for op in fn.entry} == {"nn", "func"}


def test_mlp_example_ir_text():
    assert print_ir(load("mlp"), elide_threshold=16) == """\
module @mlp {
  func.func @main(%x: tensor<1x784xf32> loc("x"("mlp.lam":3:11))) -> tensor<1x10xf32> {
    %w1 = nn.constant attributes {value = dense_resource<__elided__> : tensor<784x32xf32>} : () -> tensor<784x32xf32> loc("w1"("mlp.lam":4:3))
    %b1 = nn.constant attributes {value = dense_resource<__elided__> : tensor<32xf32>} : () -> tensor<32xf32> loc("b1"("mlp.lam":5:3))
    %w2 = nn.constant attributes {value = dense_resource<__elided__> : tensor<32x10xf32>} : () -> tensor<32x10xf32> loc("w2"("mlp.lam":6:3))
    %b2 = nn.constant attributes {value = dense<1.000000e-01> : tensor<10xf32>} : () -> tensor<10xf32> loc("b2"("mlp.lam":7:3))
    %0 = nn.matmul %x, %w1 : (tensor<1x784xf32>, tensor<784x32xf32>) -> tensor<1x32xf32> loc("h"("mlp.lam":8:14))
    %1 = nn.add %0, %b1 : (tensor<1x32xf32>, tensor<32xf32>) -> tensor<1x32xf32> loc("h"("mlp.lam":8:19))
    %h = nn.relu %1 : (tensor<1x32xf32>) -> tensor<1x32xf32> loc("h"("mlp.lam":8:7))
    %2 = nn.matmul %h, %w2 : (tensor<1x32xf32>, tensor<32x10xf32>) -> tensor<1x10xf32> loc("logits"("mlp.lam":9:12))
    %logits = nn.add %2, %b2 : (tensor<1x10xf32>, tensor<10xf32>) -> tensor<1x10xf32> loc("logits"("mlp.lam":9:26))
    %output = nn.softmax %logits : (tensor<1x10xf32>) -> tensor<1x10xf32> loc("output"("mlp.lam":10:10))
    return %output : tensor<1x10xf32> loc("mlp.lam":10:3)
  } loc("mlp"("mlp.lam":3:1))
}
"""


def test_the_issue_example_ir_text():
    text = """\
model mlp(x: f32[1, 784]) {
  w1 = param f32[784, 128] init=normal(seed=0)
  h = relu(matmul(x, w1))
  return softmax(h, axis=-1)
}
"""
    module = load_text(text, filename="mlp.lam")
    assert print_ir(module, print_locations=False, elide_threshold=16) == """\
module @mlp {
  func.func @main(%x: tensor<1x784xf32>) -> tensor<1x128xf32> {
    %w1 = nn.constant attributes {value = dense_resource<__elided__> : tensor<784x128xf32>} : () -> tensor<784x128xf32>
    %0 = nn.matmul %x, %w1 : (tensor<1x784xf32>, tensor<784x128xf32>) -> tensor<1x128xf32>
    %h = nn.relu %0 : (tensor<1x128xf32>) -> tensor<1x128xf32>
    %output = nn.softmax %h : (tensor<1x128xf32>) -> tensor<1x128xf32>
    return %output : tensor<1x128xf32>
  }
}
"""
    ops = list(module.block.first_op.entry)
    assert ops[1].location == NameLoc("h", FileLineColLoc("mlp.lam", 3, 12))  # matmul, inside relu
    assert ops[2].location == NameLoc("h", FileLineColLoc("mlp.lam", 3, 7))
    assert np.array_equal(ops[0].value.array, normal(0, (784, 128)))


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_mlp_runs_like_numpy():
    x = image(0, (1, 784))
    w1, b1 = normal(0, (784, 32), std=0.05), np.zeros(32, np.float32)
    w2, b2 = normal(1, (32, 10), std=0.2), np.full(10, 0.1, np.float32)
    expected = softmax(np.matmul(np.maximum(x @ w1 + b1, 0), w2) + b2)
    (got,) = interpret(load("mlp"), x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def conv2d(x, w, b=None, stride=1, pad=0):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    y = np.einsum("nchwij,ocij->nohw", windows, w)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def batch_norm(x, scale, bias, mean, var, eps=1e-5):
    r = lambda v: v.reshape(1, -1, 1, 1)  # noqa: E731
    return (x - r(mean)) / np.sqrt(r(var) + eps) * r(scale) + r(bias)


def test_cnn_runs_like_numpy():
    x = image(1, (1, 3, 16, 16))
    w1, b1 = normal(0, (8, 3, 3, 3), std=0.2), np.zeros(8, np.float32)
    gamma, beta = uniform(1, 8, 0.5, 1.5), normal(2, 8, std=0.1)
    mean, var = normal(3, 8, std=0.1), uniform(4, 8, 0.5, 2.0)
    w2, fc, fc_b = normal(5, (16, 8, 3, 3), std=0.1), normal(6, (10, 16), std=0.3), np.zeros(10, np.float32)
    h = np.maximum(batch_norm(conv2d(x, w1, b1, pad=1), gamma, beta, mean, var), 0)
    h = h.reshape(1, 8, 8, 2, 8, 2).max(axis=(3, 5))  # 2x2 max pool, stride 2
    h = np.maximum(conv2d(h, w2, stride=2, pad=1), 0)
    expected = h.mean(axis=(2, 3)) @ fc.T + fc_b
    (got,) = interpret(load("cnn"), x)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_residual_block_runs_like_numpy():
    x = image(2, (1, 4, 8, 8))
    w1, w2 = normal(0, (4, 4, 3, 3), std=0.2), normal(1, (4, 4, 3, 3), std=0.2)
    one, zero = np.ones(4, np.float32), np.zeros(4, np.float32)
    h = np.maximum(batch_norm(conv2d(x, w1, pad=1), one, zero, zero, one), 0)
    expected = np.maximum(batch_norm(conv2d(h, w2, pad=1), one, zero, zero, one) + x, 0)
    (got,) = interpret(load("residual"), x)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_attention_block_runs_like_numpy():
    x = image(3, (4, 8))
    wq, wk, wv, wo = (normal(s, (8, 8), std=0.3) for s in range(4))
    q, k, v = x @ wq, x @ wk, x @ wv
    out = softmax(q @ k.T / np.float32(2.8284271)) @ v @ wo + x
    mu, sigma2 = out.mean(-1, keepdims=True), out.var(-1, keepdims=True)
    expected = (out - mu) / np.sqrt(sigma2 + 1e-5)
    (got,) = interpret(load("attention"), x)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# The language


def run(text, *inputs):
    return interpret(load_text(text), *inputs)


def body(ops_text: str) -> list[str]:
    """The op lines of a printed function, without locations."""
    return [line.strip() for line in ops_text.splitlines() if " = nn." in line]


def test_load_text_reads_a_path_given_as_str():
    module = load_text(str(EXAMPLES / "mlp.lam"))
    assert module.block.first_op.location.child.file == str(EXAMPLES / "mlp.lam")


def test_a_missing_file_is_an_error_not_a_traceback():
    with pytest.raises(TextModelError, match="cannot read 'nope.lam'"):
        load_text("nope.lam")


def test_infix_precedence_and_associativity():
    text = """\
model p(a: f32[2], b: f32[2], c: f32[2]) {
  y = a - b - c * a / b + -c
  return y
}"""
    a, b, c = (np.array(v, np.float32) for v in ([1, 2], [3, 5], [7, 11]))
    (got,) = run(text, a, b, c)
    np.testing.assert_allclose(got, a - b - c * a / b + -c)
    ops = [op.name for op in load_text(text).block.first_op.entry]
    assert ops == ["nn.sub", "nn.mul", "nn.div", "nn.sub", "nn.neg", "nn.add", "func.return"]


def test_matmul_operator_binds_like_multiplication():
    text = """\
model p(a: f32[2, 2], b: f32[2, 2]) {
  return a + a @ b * 2.0
}"""
    a, b = np.array([[1, 2], [3, 4]], np.float32), np.array([[0, 1], [1, 0]], np.float32)
    (got,) = run(text, a, b)
    np.testing.assert_array_equal(got, a + (a @ b) * 2)


def test_numbers_take_the_other_operands_element_type():
    module = load_text("model n(x: i32[3]) {\n  return 2 * x - 1\n}\n")
    constants = [op for op in module.block.first_op.entry if op.name == "nn.constant"]
    assert [str(op.result.type) for op in constants] == ["tensor<i32>", "tensor<i32>"]
    (got,) = interpret(module, np.array([1, 2, 3], np.int32))
    np.testing.assert_array_equal(got, [1, 3, 5])


def test_comments_blank_lines_and_calls_over_several_lines():
    text = """
# a comment before the model

model c(x: f32[1, 2, 4, 4]) {   # and after the brace
  # a whole-line comment

  y = conv2d(x,
             w,  # not defined yet: an error would point here
             pads=[1, 1,
                   1, 1])
  return y
}
"""
    with pytest.raises(TextModelError) as e:
        load_text(text, filename="c.lam")
    assert (e.value.line, e.value.column, e.value.message) == (8, 14, "undefined name 'w'")
    ok = text.replace("  y = conv2d", "  w = param f32[3, 2, 3, 3] init=ones()\n  y = conv2d")
    out = load_text(ok).block.first_op.entry.last_op.operands[0]
    assert out.type.shape == (1, 3, 4, 4)


def test_split_binds_several_names_and_returns_several_values():
    text = """\
model s(x: f32[2, 4]) {
  a, b = split(x, axis=1, sizes=[1, 3])
  return b, a
}"""
    module = load_text(text)
    assert body(print_ir(module, print_locations=False)) == [
        "%a, %b = nn.split %x attributes {axis = 1 : i64, sizes = array<i64: 1, 3>} "
        ": (tensor<2x4xf32>) -> (tensor<2x1xf32>, tensor<2x3xf32>)"]
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    b, a = interpret(module, x)
    np.testing.assert_array_equal(a, x[:, :1])
    np.testing.assert_array_equal(b, x[:, 1:])


def test_ops_that_cannot_infer_their_result_type_take_it_as_an_attribute():
    text = """\
model special(x: f32[1, 2, 3, 3]) {
  h = cast(x, to=f16)
  big = resize(x, size=[6, 6], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
  ones = constant_of_shape(shape(x, start=2), value=1, dtype=i32)
  return h, big, ones
}"""
    module = load_text(text)
    x = np.arange(18, dtype=np.float32).reshape(1, 2, 3, 3)
    h, big, ones = interpret(module, x)
    assert h.dtype == np.float16 and np.array_equal(h, x.astype(np.float16))
    np.testing.assert_array_equal(big, x.repeat(2, axis=2).repeat(2, axis=3))
    assert ones.dtype == np.int32 and np.array_equal(ones, np.ones((3, 3), np.int32))


def test_default_attributes_are_left_out_like_the_onnx_importer_does():
    module = load_text("model d(x: f32[1, 1, 4, 4]) {\n"
                       "  return max_pool2d(x, kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 0, 0])\n}")
    (pool,) = [op for op in module.block.first_op.entry if op.name == "nn.max_pool2d"]
    assert set(pool.properties) == {"kernel_shape"}


def test_attribute_values_of_every_kind():
    text = """\
model a(x: f32[2, 3]) {
  g = gelu(x, approximate="tanh")
  r = reduce_max(x, axes=[0, 1], keepdims=false)
  l = leaky_relu(x, alpha=1)
  return g, r, l
}"""
    ops = {op.name: op for op in load_text(text).block.first_op.entry}
    assert ops["nn.gelu"].approximate.value == "tanh"
    assert tuple(ops["nn.reduce_max"].axes.values) == (0, 1) and ops["nn.reduce_max"].keepdims.value == 0
    assert ops["nn.leaky_relu"].alpha.value == 1.0


def test_initializers_literals_and_broadcast_scalars():
    text = """\
model i(x: f32[2, 2]) {
  a = const f32[2, 2] init=[[1, 2], [3, -4.5]]
  b = param f32[2, 2] init=0.25
  c = param f32[2, 2] init=uniform(seed=3, low=-1, high=1)
  d = const i64[3] init=[1, -2, 3]
  e = const bool[2] init=[true, false]
  return a, b, c, d, e
}"""
    a, b, c, d, e = run(text, np.zeros((2, 2), np.float32))
    np.testing.assert_array_equal(a, np.array([[1, 2], [3, -4.5]], np.float32))
    np.testing.assert_array_equal(b, np.full((2, 2), 0.25, np.float32))
    np.testing.assert_array_equal(c, uniform(3, (2, 2), -1.0, 1.0))
    assert d.dtype == np.int64 and d.tolist() == [1, -2, 3]
    assert e.dtype == np.bool_ and e.tolist() == [True, False]


def test_names_that_are_keywords_elsewhere_are_fine():
    text = """\
model model(init: f32[2]) {
  returned = relu(init)
  params = returned + init
  return params
}"""
    (got,) = run(text, np.array([-1, 2], np.float32))
    np.testing.assert_array_equal(got, [-1, 4])


# ---------------------------------------------------------------------------------------------
# The same IR as the ONNX importer

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from lamina.compiler.frontends.onnx import load_onnx  # noqa: E402


def _lit(a: np.ndarray) -> str:
    return repr(a.tolist())


def test_text_and_onnx_import_to_the_same_ir():
    rng = np.random.default_rng(7)
    w = rng.integers(-3, 4, (4, 2, 3, 3)).astype(np.float32)
    b = np.array([0.5, -1.0, 0.25, 2.0], np.float32)
    fc = rng.integers(-2, 3, (3, 16)).astype(np.float32)
    text = f"""\
model same(x: f32[1, 2, 4, 4]) {{
  w = const f32[4, 2, 3, 3] init={_lit(w)}
  b = const f32[4] init={_lit(b)}
  fc = const f32[3, 16] init={_lit(fc)}
  conv = conv2d(x, w, b, pads=[1, 1, 1, 1], strides=[2, 2])
  act = relu(conv)
  flat = flatten(act, axis=1)
  logits = gemm(flat, fc, trans_b=1)
  t = transpose(logits, perm=[1, 0])
  out = softmax(t, axis=0)
  return out, act
}}"""
    nodes = [
        oh.make_node("Conv", ["x", "w", "b"], ["conv"], pads=[1, 1, 1, 1], strides=[2, 2]),
        oh.make_node("Relu", ["conv"], ["act"]),
        oh.make_node("Flatten", ["act"], ["flat"], axis=1),
        oh.make_node("Gemm", ["flat", "fc"], ["logits"], transB=1),
        oh.make_node("Transpose", ["logits"], ["t"], perm=[1, 0]),
        oh.make_node("Softmax", ["t"], ["out"], axis=0),
    ]
    graph = oh.make_graph(nodes, "same", [oh.make_tensor_value_info("x", T.FLOAT, [1, 2, 4, 4])],
                          [oh.make_tensor_value_info("out", T.FLOAT, None),
                           oh.make_tensor_value_info("act", T.FLOAT, None)],
                          [nh.from_array(w, "w"), nh.from_array(b, "b"), nh.from_array(fc, "fc")])
    from_onnx = load_onnx(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)]))
    from_text = load_text(text)
    fn = lambda m: print_ir(m.block.first_op, print_locations=False)  # noqa: E731
    assert fn(from_text) == fn(from_onnx)
    x = image(4, (1, 2, 4, 4))
    for got, want in zip(interpret(from_text, x), interpret(from_onnx, x)):
        np.testing.assert_array_equal(got, want)


def test_infix_operators_import_like_onnx_binary_nodes():
    text = """\
model ops(a: f32[2, 3], b: f32[3]) {
  s = add(a, b)
  d = s - b
  m = d * a
  q = m / a
  return q
}"""
    nodes = [oh.make_node(op, ins, [out]) for op, ins, out in
             [("Add", ["a", "b"], "s"), ("Sub", ["s", "b"], "d"), ("Mul", ["d", "a"], "m"), ("Div", ["m", "a"], "q")]]
    graph = oh.make_graph(nodes, "ops", [oh.make_tensor_value_info("a", T.FLOAT, [2, 3]),
                                         oh.make_tensor_value_info("b", T.FLOAT, [3])],
                          [oh.make_tensor_value_info("q", T.FLOAT, None)])
    from_onnx = load_onnx(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)]))
    fn = lambda m: print_ir(m.block.first_op, print_locations=False)  # noqa: E731
    assert fn(load_text(text)) == fn(from_onnx)


# ---------------------------------------------------------------------------------------------
# Errors: one sentence at file:line:col, the line, a caret and a hint


def error_of(text: str) -> TextModelError:
    with pytest.raises(TextModelError) as e:
        load_text(text, filename="bad.lam")
    assert isinstance(e.value, ParseError)
    return e.value


def model_with(*lines: str, args: str = "x: f32[2, 3]") -> str:
    return f"model m({args}) {{\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def test_syntax_error_rendered_in_full():
    e = error_of(model_with("h = relu(x) y", "return h"))
    assert e.render() == """\
bad.lam:2:15: error: expected the end of the statement, found 'y'
  h = relu(x) y
              ^
hint: write one statement per line"""


def test_syntax_error_names_the_bracket_left_open():
    e = error_of(model_with("h = relu(matmul(x, x)", "return h"))
    assert (e.line, e.column) == (3, 3)
    assert e.message == "expected ',' or ')', found 'return'"
    assert e.hint == "the '(' at line 2, column 11 is not closed"


@pytest.mark.parametrize("lines, args, where, message", [
    (["w = param f32[2]", "return x"], "x: f32[2]", (2, 19), "expected 'init=' after the type, found the end of the line"),
    (["return x"], "x: [2]", (1, 12), "expected a type like f32[2, 3], found '['"),
    (["h = softmax(x, axis=)", "return h"], "x: f32[2]", (2, 23), "expected an attribute value, found ')'"),
    (["h =", "return h"], "x: f32[2]", (2, 6), "expected an expression, param or const, found the end of the line"),
    (["h = relu(%x)", "return h"], "x: f32[2]", (2, 12), "unexpected character '%'"),
    (['h = gelu(x, approximate="tanh)', "return h"], "x: f32[2]", (2, 27), "unterminated string"),
])
def test_syntax_errors(lines, args, where, message):
    e = error_of(model_with(*lines, args=args))
    assert ((e.line, e.column), e.message) == (where, message)
    assert e.hint


def test_unclosed_model_and_second_model():
    e = error_of("model m(x: f32[2]) {\n  return x\n")
    assert ((e.line, e.column), e.message) == ((2, 11), "expected '}', found the end of the file")
    e = error_of("model m(x: f32[2]) {\n  return x\n}\nmodel n(x: f32[2]) {\n  return x\n}\n")
    assert ((e.line, e.column), e.message) == ((4, 1), "a file holds one model, but a second one starts here")


def test_unknown_op_suggests_the_closest():
    e = error_of(model_with("h = rleu(x)", "return h"))
    assert e.render() == """\
bad.lam:2:7: error: unknown op 'rleu'
  h = rleu(x)
      ^
hint: did you mean 'relu'? the nn ops are listed in dialects/nn/README.md"""


def test_wrong_arity():
    e = error_of(model_with("h = relu(x, x)", "return h"))
    assert ((e.line, e.column), e.message, e.hint) == ((2, 7), "relu takes 1 operand, got 2", "usage: relu(x)")
    e = error_of(model_with("return conv2d(x)"))
    assert e.message == "conv2d takes 2 or 3 operands, got 1"
    assert e.hint.startswith("usage: conv2d(x, w, [bias], strides=[1, 1], pads=[0, 0, 0, 0]")
    e = error_of(model_with("return concat(axis=0)"))
    assert e.message == "concat takes 1 or more operands, got 0"


def test_unknown_attribute_lists_the_ops_attributes():
    e = error_of(model_with("h = softmax(x, axes=1)", "return h"))
    assert ((e.line, e.column), e.message, e.hint) == (
        (2, 18), "softmax has no attribute 'axes'", "did you mean 'axis'? softmax takes axis")
    e = error_of(model_with("return relu(x, alpha=0.1)"))
    assert (e.message, e.hint) == ("relu has no attribute 'alpha'", "relu takes no attributes")


def test_wrong_attribute_type():
    e = error_of(model_with('h = softmax(x, axis="last")', "return h"))
    assert e.render() == """\
bad.lam:2:23: error: attribute 'axis' of softmax must be an integer, got the string "last"
  h = softmax(x, axis="last")
                      ^
hint: write it like axis=-1"""
    e = error_of(model_with("return transpose(x, perm=1)"))
    assert (e.message, e.hint) == ("attribute 'perm' of transpose must be a list of integers, got the integer 1",
                                   "write it like perm=[1]")
    e = error_of(model_with("return cast(x, to=f31)"))
    assert ((e.line, e.column), e.message) == ((2, 21), "attribute 'to' must be an element type, got the name f31")


def test_missing_attribute():
    e = error_of(model_with("return reshape(x)"))
    assert ((e.line, e.column), e.message, e.hint) == (
        (2, 10), "reshape requires attribute 'shape'", "usage: reshape(x, shape=[1, 1])")


def test_shape_mismatch_at_the_call():
    e = error_of(model_with("w = param f32[100, 10] init=zeros()", "h = matmul(x, w)", "return h",
                            args="x: f32[1, 784]"))
    assert e.render() == """\
bad.lam:3:7: error: matmul: a [1, 784] has 784 columns but b [100, 10] has 100 rows
  h = matmul(x, w)
      ^
hint: the operands are f32[1, 784] and f32[100, 10]"""


def test_shape_mismatch_of_an_operator_points_at_the_operator():
    e = error_of(model_with("return x + y", args="x: f32[2, 3], y: f32[4]"))
    assert ((e.line, e.column), e.message) == (
        (2, 12), "'+' (add): shapes [2, 3] and [4] do not broadcast (dimension -1 is 3 vs 4)")


def test_undefined_name():
    e = error_of(model_with("hidden = relu(x)", "return hiden"))
    assert ((e.line, e.column), e.message, e.hint) == ((3, 10), "undefined name 'hiden'", "did you mean 'hidden'?")
    e = error_of(model_with("return relu(y)"))
    assert (e.message, e.hint) == ("undefined name 'y'", "define it on a line before this one: y = ...")


def test_redefinition():
    e = error_of(model_with("h = relu(x)", "h = relu(h)", "return h"))
    assert e.render() == """\
bad.lam:3:3: error: 'h' is already defined (line 2, column 3)
  h = relu(h)
  ^
hint: values cannot be reassigned; give this one a new name, like h2"""
    e = error_of(model_with("x = param f32[2] init=zeros()", "return x"))
    assert e.message == "'x' is already defined (line 1, column 9)"


@pytest.mark.parametrize("lines, where, message", [
    (["return relu(split(x, axis=1, sizes=[1, 2]))"], (2, 15),
     "split gives 2 results, so it cannot be used as one value"),
    (["a, b, c = split(x, axis=1, sizes=[1, 2])", "return a"], (2, 13),
     "split gives 2 results, but 3 names are bound"),
    (["a = relu(x)"], (3, 1), "model m has no return statement"),
    (["return x", "a = relu(x)"], (3, 3), "return must be the last statement of the model"),
    (["w = param f32[3] init=gaussian(seed=0)", "return x"], (2, 25), "unknown initializer 'gaussian'"),
    (["w = param f32[3] init=normal(sed=0)", "return x"], (2, 32), "normal() has no argument 'sed'"),
    (["w = const f32[3] init=[1, 2]", "return x"], (2, 25), "the value has shape [2] but the type is f32[3]"),
    (["w = const f32[2, 2] init=[[1, 2], [3]]", "return x"], (2, 37), "this row has shape [1] but the first has [2]"),
    (["w = const i8[2] init=[1, 300]", "return x"], (2, 28), "300 does not fit in i8"),
    (["w = param f32[?] init=zeros()", "return x"], (2, 13), "a param or const needs a static shape"),
    (["return concat(x, axis=0, x)"], (2, 28), "an operand cannot follow an attribute"),
    (["return constant(value=1)"], (2, 10), "constant is not called; declare it"),
    (["return softmax(x, axis=0, axis=1)"], (2, 29), "attribute 'axis' is given twice"),
    (["return constant_of_shape(shape(x))"], (2, 10),
     "constant_of_shape needs its shape operand to be known when the model is read"),
    (["return x * 0.5"], (2, 14), "0.5 is not an integer, but the other operand is i32[?, 3]"),
])
def test_other_errors(lines, where, message):
    args = "x: i32[?, 3]" if "0.5" in lines[0] or "constant_of_shape" in lines[0] else "x: f32[2, 3]"
    e = error_of(model_with(*lines, args=args))
    assert ((e.line, e.column), e.message) == (where, message)


def test_unknown_element_type():
    e = error_of(model_with("return x", args="x: f23[2]"))
    assert ((e.line, e.column), e.message) == ((1, 12), "unknown element type 'f23'")
    assert e.hint.startswith("did you mean 'f32'? element types: f16, bf16, f32")


def test_the_interpreter_reports_a_bad_input_against_the_model():
    from lamina.runtime.interpreter import InterpreterError

    module = load_text(model_with("return relu(x)"))
    with pytest.raises(InterpreterError, match="%x has shape"):
        interpret(module, np.zeros((3, 3), np.float32))


# ---------------------------------------------------------------------------------------------
# Random chains of elementwise and shape ops, against numpy

UNARY = {
    "relu": lambda v: np.maximum(v, 0),
    "abs": np.abs,
    "neg": np.negative,
    "tanh": np.tanh,
    "identity": lambda v: v,
}


@st.composite
def chains(draw):
    """(text, numpy function, input shape): a model of 1..8 steps over f32 values."""
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    names, shapes, fns = ["x"], [shape], [lambda env: env["x"]]
    lines = []
    for i in range(draw(st.integers(1, 8))):
        k = draw(st.integers(0, len(names) - 1))
        src, s = names[k], shapes[k]
        c = draw(st.sampled_from([0.5, 2.0, -1.0, 3.0]))
        kind = draw(st.sampled_from(["unary", "scalar", "binary", "transpose", "reshape", "unsqueeze",
                                     "concat", "reduce", "flatten"]))
        if kind == "unary":
            op = draw(st.sampled_from(sorted(UNARY)))
            expr, f, out = f"{op}({src})", (lambda e, src=src, op=op: UNARY[op](e[src])), s
        elif kind == "scalar":
            sym = draw(st.sampled_from(["+", "-", "*"]))
            expr = f"{src} {sym} {c}"
            f = {"+": lambda e, src=src, c=c: e[src] + np.float32(c),
                 "-": lambda e, src=src, c=c: e[src] - np.float32(c),
                 "*": lambda e, src=src, c=c: e[src] * np.float32(c)}[sym]
            out = s
        elif kind == "binary":
            same = [n for n, t in zip(names, shapes) if t == s]
            other = draw(st.sampled_from(same))
            sym = draw(st.sampled_from(["+", "-", "*"]))
            expr = f"{src} {sym} {other}"
            f = {"+": lambda e, a=src, b=other: e[a] + e[b], "-": lambda e, a=src, b=other: e[a] - e[b],
                 "*": lambda e, a=src, b=other: e[a] * e[b]}[sym]
            out = s
        elif kind == "transpose":
            expr, f, out = f"transpose({src})", (lambda e, src=src: np.transpose(e[src])), s[::-1]
        elif kind == "reshape":
            out = tuple(reversed(s))
            expr, f = f"reshape({src}, shape={list(out)})", (lambda e, src=src, out=out: e[src].reshape(out))
        elif kind == "unsqueeze" and len(s) < 4:
            expr, f, out = f"unsqueeze({src}, axes=[0])", (lambda e, src=src: e[src][None]), (1,) + s
        elif kind == "concat":
            axis = draw(st.integers(0, len(s) - 1))
            out = s[:axis] + (2 * s[axis],) + s[axis + 1:]
            expr = f"concat({src}, {src}, axis={axis})"
            f = lambda e, src=src, axis=axis: np.concatenate([e[src], e[src]], axis=axis)  # noqa: E731
        elif kind == "reduce":
            axis = draw(st.integers(0, len(s) - 1))
            expr = f"reduce_sum({src}, axes=[{axis}], keepdims=true)"
            f = lambda e, src=src, axis=axis: e[src].sum(axis=axis, keepdims=True)  # noqa: E731
            out = s[:axis] + (1,) + s[axis + 1:]
        else:
            expr, f = f"flatten({src}, axis=0)", (lambda e, src=src: e[src].reshape(1, -1))
            out = (1, int(np.prod(s)))
        name = f"v{i}"
        lines.append(f"{name} = {expr}")
        names.append(name)
        shapes.append(out)
        fns.append(f)
    text = f"model chain(x: f32{list(shape)}) {{\n" + "".join(f"  {line}\n" for line in lines) + \
           f"  return {names[-1]}\n}}\n"

    def reference(x):
        env = {"x": x}
        for n, fn in zip(names[1:], fns[1:]):
            env[n] = np.asarray(fn(env), np.float32)
        return env[names[-1]]
    return text, reference, shape


@given(chains(), st.integers(0, 2**16))
def test_random_chains_match_numpy(chain, seed):
    text, reference, shape = chain
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    (got,) = run(text, x)
    want = reference(x)
    assert got.shape == want.shape, text
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=text)
