"""nn.matmul and nn.gemm: inferred types, verifier messages, round trips, and `interpret`
against ONNX Runtime running the same single ONNX node."""

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import helper

from lamina.compiler.errors import VerifyError
from lamina.compiler.parser import parse
from lamina.compiler.printer import print_ir
from lamina.compiler.types import RankedTensorType, f16, f32, f64
from lamina.compiler.verifier import verify
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp
from lamina.dialects.nn.base import integer, real
from lamina.dialects.nn.linalg import GemmOp, MatMulOp

# -- helpers: one ONNX node run by onnxruntime, one lamina op in a function -------------------------


def onnx_run(op_type, inputs, opset=18, **attrs):
    """Run a single ONNX node on `inputs` (arrays fed at run time, None for an omitted optional
    input) and return its only output."""
    names, feeds, graph_inputs = [], {}, []
    for i, value in enumerate(inputs):
        names.append("" if value is None else f"in{i}")
        if value is not None:
            feeds[f"in{i}"] = value
            graph_inputs.append(helper.make_tensor_value_info(
                f"in{i}", helper.np_dtype_to_tensor_dtype(value.dtype), value.shape))
    out = helper.make_tensor_value_info("out", graph_inputs[0].type.tensor_type.elem_type, None)
    graph = helper.make_graph([helper.make_node(op_type, names, ["out"], **attrs)], "g", graph_inputs, [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # no warnings: ONNX shape inference disagrees on ceil_mode
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


ELEMENT = {np.dtype(np.float32): f32, np.dtype(np.float64): f64, np.dtype(np.float16): f16}


def type_of(array) -> RankedTensorType:
    return RankedTensorType(array.shape, ELEMENT[array.dtype])


def build(op_class, operand_types, result_types=None, **props):
    """`func.func @f(args) { %y = op(args); return %y }` in a module: (module, op)."""
    props = {k: v for k, v in props.items() if v is not None}
    if result_types is None:
        result_types = op_class.infer_result_types(list(operand_types), props)
    fn = FuncOp.create_with_body("f", operand_types, result_types)
    op = op_class(operands=list(fn.entry.args), result_types=result_types, properties=props)
    fn.entry.append(op)
    fn.entry.append(ReturnOp(operands=list(op.results)))
    module = ModuleOp.empty()
    module.block.append(fn)
    return module, op


def run(op_class, *arrays, **props):
    """Build the op on `arrays`' types, verify it, round-trip its text, and interpret it."""
    module, op = build(op_class, [type_of(a) for a in arrays], **props)
    verify(module)
    text = print_ir(module)
    assert print_ir(parse(text)) == text
    y = op.interpret(*arrays)
    assert y.shape == op.result.type.shape and y.dtype == arrays[0].dtype
    return y


def error(text: str) -> str:
    """The verifier's message for the IR `text`."""
    with pytest.raises(VerifyError) as info:
        verify(parse(text))
    return info.value.message


def floats(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


seeds = st.integers(0, 2 ** 32 - 1)


# -- matmul -------------------------------------------------------------------------------------------


@st.composite
def matmul_shapes(draw):
    """Shapes of a and b that numpy.matmul accepts: ranks 1 to 4, batch dims that broadcast."""
    m, k, n = (draw(st.integers(1, 5)) for _ in range(3))
    batch = draw(st.lists(st.integers(2, 3), max_size=2))
    a_rank, b_rank = draw(st.integers(1, 4)), draw(st.integers(1, 4))

    def batch_of(rank):  # the last rank - 2 batch dims, some broadcast as 1
        dims = batch[len(batch) - max(0, rank - 2):] if rank - 2 <= len(batch) else [1] * (rank - 2 - len(batch)) + batch
        return tuple(d if draw(st.booleans()) else 1 for d in dims)

    a = (k,) if a_rank == 1 else batch_of(a_rank) + (m, k)
    b = (k,) if b_rank == 1 else batch_of(b_rank) + (k, n)
    return a, b


@given(shapes=matmul_shapes(), seed=seeds)
def test_matmul_matches_onnxruntime(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = floats(rng, *shapes[0]), floats(rng, *shapes[1])
    expected = onnx_run("MatMul", [a, b])
    got = run(MatMulOp, a, b)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_matmul_inferred_types():
    t = RankedTensorType
    assert MatMulOp.infer_result_types([t((8, 1, 4, 3), f32), t((5, 3, 2), f32)], {}) == [t((8, 5, 4, 2), f32)]
    assert MatMulOp.infer_result_types([t((3,), f32), t((2, 3, 4), f32)], {}) == [t((2, 4), f32)]
    assert MatMulOp.infer_result_types([t((2, 3, 4), f32), t((4,), f32)], {}) == [t((2, 3), f32)]
    assert MatMulOp.infer_result_types([t((4,), f32), t((4,), f32)], {}) == [t((), f32)]
    assert MatMulOp.infer_result_types([t((None, 16, 64), f32), t((64, None), f32)], {}) == [t((None, 16, None), f32)]


def binary_text(op, a, b, y, attrs=""):
    attrs = f"attributes {{{attrs}}} " if attrs else ""
    return (f"func.func @f(%a: {a}, %b: {b}) -> {y} {{\n  %y = {op} %a, %b {attrs}: ({a}, {b}) -> {y}\n"
            f"  func.return %y : {y}\n}}\n")


def test_matmul_errors():
    assert error(binary_text("nn.matmul", "tensor<2x3xf32>", "tensor<4x5xf32>", "tensor<2x5xf32>")) == \
        "'nn.matmul' op a [2, 3] has 3 columns but b [4, 5] has 4 rows"
    assert error(binary_text("nn.matmul", "tensor<2x2x3xf32>", "tensor<3x3x4xf32>", "tensor<2x2x4xf32>")) == \
        "'nn.matmul' op shapes [2] and [3] do not broadcast (dimension -1 is 2 vs 3)"
    assert error(binary_text("nn.matmul", "tensor<2x3xf32>", "tensor<3x4xf16>", "tensor<2x4xf32>")) == \
        "'nn.matmul' op a is f32 but b is f16; they must match"
    assert error(binary_text("nn.matmul", "tensor<2x3xf32>", "tensor<3x4xf32>", "tensor<2x5xf32>")) == \
        "'nn.matmul' op has result types tensor<2x5xf32>, but its operands and attributes give tensor<2x4xf32>"


# -- gemm ---------------------------------------------------------------------------------------------


@given(m=st.integers(1, 5), k=st.integers(1, 5), n=st.integers(1, 5), trans_a=st.integers(0, 1),
       trans_b=st.integers(0, 1), alpha=st.sampled_from([1.0, 0.5, -2.0]),
       beta=st.sampled_from([1.0, 0.0, 3.0]), c_kind=st.sampled_from(["none", "n", "1n", "m1", "mn", "1"]),
       seed=seeds)
def test_gemm_matches_onnxruntime(m, k, n, trans_a, trans_b, alpha, beta, c_kind, seed):
    rng = np.random.default_rng(seed)
    a = floats(rng, *((k, m) if trans_a else (m, k)))
    b = floats(rng, *((n, k) if trans_b else (k, n)))
    c_shape = {"none": None, "n": (n,), "1n": (1, n), "m1": (m, 1), "mn": (m, n), "1": (1,)}[c_kind]
    c = [] if c_shape is None else [floats(rng, *c_shape)]
    expected = onnx_run("Gemm", [a, b, *c], alpha=alpha, beta=beta, transA=trans_a, transB=trans_b)
    got = run(GemmOp, a, b, *c, alpha=real(alpha), beta=real(beta), trans_a=integer(trans_a),
              trans_b=integer(trans_b))
    assert got.shape == (m, n)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_gemm_errors():
    assert error(binary_text("nn.gemm", "tensor<2x3xf32>", "tensor<4x3xf32>", "tensor<2x4xf32>")) == \
        "'nn.gemm' op op(a) is [2, 3] but op(b) is [4, 3]; their inner dims 3 and 4 must match"
    assert error(binary_text("nn.gemm", "tensor<2x3x1xf32>", "tensor<3x4xf32>", "tensor<2x4xf32>")) == \
        "'nn.gemm' op a must be a 2-D tensor, but has rank 3"
    c_text = ("func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<3xf32>) -> tensor<2x4xf32> {\n"
              "  %y = nn.gemm %a, %b, %c : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x4xf32>\n"
              "  func.return %y : tensor<2x4xf32>\n}\n")
    assert error(c_text) == \
        "'nn.gemm' op c [3] does not broadcast to the result [2, 4]"
    assert error(c_text.replace("tensor<3xf32>", "tensor<4x4xf32>")) == \
        "'nn.gemm' op c [4, 4] does not broadcast to the result [2, 4]"


def test_gemm_fully_connected_type():
    t = RankedTensorType
    assert GemmOp.infer_result_types([t((1, 512), f32), t((1000, 512), f32), t((1000,), f32)],
                                     {"trans_b": integer(1)}) == [t((1, 1000), f32)]


# -- docstrings: each op's IR example parses, verifies and prints back --------------------------------


@pytest.mark.parametrize("op_class", [MatMulOp, GemmOp])
def test_docstring_example(op_class):
    example = next(line.strip() for line in op_class.__doc__.splitlines() if line.strip().startswith("%"))
    module = parse(wrap(example))
    verify(module)
    assert example in print_ir(module)


def wrap(example: str) -> str:
    """A function whose arguments are the example's operands and that returns its result."""
    lhs, rhs = example.split(" = ", 1)
    decl = parse(f"func.func private @t{rhs[rhs.rindex(' : ') + 2:]}")
    fn_type = next(op for op in decl.walk() if op.name == "func.func").type
    names = [w.strip(",") for w in rhs.split(" attributes ")[0].split(" : ")[0].split()[1:]]
    args = ", ".join(f"{n}: {t}" for n, t in zip(names, fn_type.inputs))
    (result,) = fn_type.results
    return f"func.func @f({args}) -> {result} {{\n  {example}\n  func.return {lhs} : {result}\n}}\n"
