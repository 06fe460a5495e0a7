"""Helpers for the nn op tests: build one op in a function, check it, and run the same op as a
single-node ONNX model in onnxruntime (the independent reference)."""

from __future__ import annotations

import re

import numpy as np
import onnxruntime
import pytest
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from lamina.compiler.attributes import DenseElementsAttr, TypeAttr
from lamina.compiler.builder import Builder
from lamina.compiler.errors import VerifyError
from lamina.compiler.parser import parse
from lamina.compiler.printer import print_ir
from lamina.compiler.types import FunctionType, RankedTensorType, f16, f32, f64, i1, i8, i32, i64
from lamina.compiler.verifier import verify
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp
import lamina.dialects.nn  # noqa: F401  (registers the nn ops)

ELEMENT_TYPES = {np.dtype(t.numpy_dtype): t for t in (f16, f32, f64, i1, i8, i32, i64)}

seeds = st.integers(0, 2 ** 32 - 1)


def floats(rng, *shape) -> np.ndarray:
    """Standard-normal f32 values of `shape` from the numpy generator `rng`."""
    return rng.standard_normal(shape).astype(np.float32)


def tensor_of(array_or_shape, element=f32) -> RankedTensorType:
    """The tensor type of an array (its shape and dtype), or of a shape and an element type."""
    if isinstance(array_or_shape, np.ndarray):
        return RankedTensorType(array_or_shape.shape, ELEMENT_TYPES[array_or_shape.dtype])
    return RankedTensorType(tuple(array_or_shape), element)


def build(op_class, operand_types, result_types=None, **props):
    """`op_class` applied to the arguments of a function `@f` in a module; returns the op."""
    module = ModuleOp.empty()
    fn = FuncOp.create_with_body("f", operand_types, ())
    module.block.append(fn)
    b = Builder.at_end(fn.entry)
    op = b.create(op_class, *fn.entry.args, result_types=result_types, **props)
    b.create(ReturnOp, *op.results, result_types=[])
    fn.function_type = TypeAttr(FunctionType(tuple(operand_types), op.result_types))
    return op


def module_of(op):
    return op.parent_op.parent_op


def check(op_class, operand_types, result_types=None, **props):
    """Build the op, verify its module, and check that print -> parse -> print is stable."""
    op = build(op_class, operand_types, result_types, **props)
    verify(module_of(op))
    text = print_ir(module_of(op))
    assert op.name + " " in text
    again = parse(text)
    verify(again)
    assert print_ir(again) == text
    return op


def interpret(op_class, *arrays, result_types=None, **props) -> np.ndarray:
    """`check` the op on the types of `arrays`, then interpret it on them; the result must have
    the op's result shape and the first array's dtype."""
    op = check(op_class, [tensor_of(a) for a in arrays], result_types, **props)
    y = op.interpret(*arrays)
    assert y.shape == op.result.type.shape and y.dtype == arrays[0].dtype
    return y


def verify_message(op_class, operand_types, result_types=None, **props) -> str:
    """The verifier's message for an op that should not verify (result types as given)."""
    op = build(op_class, operand_types, result_types, **props)
    with pytest.raises(VerifyError) as info:
        verify(module_of(op))
    return info.value.message


def op_text(op_name, operand_types, result_type, attrs="") -> str:
    """IR text of a function applying `op_name` to arguments %a0, %a1, ... of `operand_types`
    (type strings), with the attribute dictionary body `attrs` if any."""
    args = ", ".join(f"%a{i}: {t}" for i, t in enumerate(operand_types))
    names = ", ".join(f"%a{i}" for i in range(len(operand_types)))
    attrs = f"attributes {{{attrs}}} " if attrs else ""
    return (f"func.func @f({args}) -> {result_type} {{\n"
            f"  %y = {op_name} {names} {attrs}: ({', '.join(operand_types)}) -> {result_type}\n"
            f"  func.return %y : {result_type}\n}}\n")


def verify_text_message(text: str) -> str:
    """The verifier's message for IR `text` that parses but should not verify."""
    with pytest.raises(VerifyError) as info:
        verify(parse(text))
    return info.value.message


def onnx_run(op_type, inputs, initializers=(), outputs=1, opset=18, **attributes):
    """Run one ONNX node: `inputs` become graph inputs, then `initializers` (None = an omitted
    optional input) follow them as constant inputs. Returns the list of outputs."""
    initializers = list(initializers)
    while initializers and initializers[-1] is None:  # omit trailing optional inputs entirely
        initializers.pop()
    graph_inputs, inits, names = [], [], []
    for i, arr in enumerate(inputs):
        names.append(f"in{i}")
        graph_inputs.append(helper.make_tensor_value_info(
            f"in{i}", helper.np_dtype_to_tensor_dtype(arr.dtype), arr.shape))
    for i, arr in enumerate(initializers):
        names.append("" if arr is None else f"init{i}")
        if arr is not None:
            inits.append(numpy_helper.from_array(np.asarray(arr), f"init{i}"))
    out_names = [f"out{i}" for i in range(outputs)]
    node = helper.make_node(op_type, names, out_names, **attributes)
    graph_outputs = [helper.make_empty_tensor_value_info(n) for n in out_names]
    graph = helper.make_graph([node], "g", graph_inputs, graph_outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # tiny graphs: no thread pools
    options.log_severity_level = 3  # errors only: ONNX shape inference warns on e.g. ceil_mode pools
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {f"in{i}": arr for i, arr in enumerate(inputs)})


def assert_same(ours, theirs, rtol=1e-5, atol=0.0):
    """Same dtype, same shape, values close."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def dense(array: np.ndarray, element) -> DenseElementsAttr:
    return DenseElementsAttr(RankedTensorType(array.shape, element), array)


def docstring_line(op_class) -> str:
    """The IR example line of an op's docstring."""
    return next(ln.strip() for ln in op_class.__doc__.splitlines() if f" {op_class.name} " in ln)


def docstring_example(op_class) -> str:
    """The IR example of an op's docstring, wrapped in a function whose arguments are its operands."""
    line = docstring_line(op_class)
    results, rest = line.split(" = ", 1)
    operands = rest[len(op_class.name):].split(" attributes ")[0].split(" : ")[0].strip()
    inputs, outputs = re.fullmatch(r".* : \((.*)\) -> \(?(.*?)\)?", line).groups()
    args = ", ".join(f"{name}: {t}" for name, t in zip(operands.split(", "), inputs.split(", ")) if name)
    return (f"func.func @f({args}) -> ({outputs}) {{\n  {line}\n"
            f"  func.return {results} : {outputs}\n}}\n")


def check_docstring(op_class, verbatim=False) -> None:
    """The docstring's IR example parses, verifies, and prints back the same; with `verbatim`, the
    printed module also holds the example line exactly as the docstring writes it."""
    module = parse(docstring_example(op_class))
    verify(module)
    assert any(isinstance(op, op_class) for op in module.walk())
    text = print_ir(module)
    assert print_ir(parse(text)) == text
    if verbatim:
        assert docstring_line(op_class) in text
