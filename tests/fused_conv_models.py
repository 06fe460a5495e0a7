"""Helpers for the fused-conv tests (test_depthwise_pointwise.py, test_pointwise_depthwise.py,
test_concat_pointwise.py): small ONNX graphs of convs with activations, finished into models with
random inputs, compiled by lamina and checked against onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import lamina
from lamina.compiler.frontends.onnx import load_onnx


def activation(nodes: list, inits: list, kind, value: str, name: str) -> str:
    """Append activation `kind` ("Clip" to [0, 6], "Relu", or None: none) of `value` as node
    `name`; returns the name of the value it leaves."""
    if kind == "Clip":
        if not any(i.name == "lo" for i in inits):
            inits += [numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(6), "hi")]
        nodes.append(helper.make_node("Clip", [value, "lo", "hi"], [name], name=name))
    elif kind == "Relu":
        nodes.append(helper.make_node("Relu", [value], [name], name=name))
    else:
        return value
    return name


def model_of(rng, name: str, nodes: list, inits: list, inputs: dict, output: str):
    """The ONNX model (opset 17, shapes inferred) of graph `nodes` with float inputs `inputs`
    (name -> shape) and result `output`, and standard-normal values for its inputs."""
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(shape))
                                            for n, shape in inputs.items()],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    feeds = {n: rng.standard_normal(tuple(shape)).astype(np.float32) for n, shape in inputs.items()}
    return onnx.shape_inference.infer_shapes(model), feeds


def onnxruntime_outputs(model, feeds):
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def check(model, feeds):
    """The model compiled by lamina, after its output was checked against onnxruntime's."""
    compiled = lamina.compile(load_onnx(model))
    (ours,) = compiled(*feeds.values())
    np.testing.assert_allclose(ours, onnxruntime_outputs(model, feeds), rtol=1e-4, atol=1e-4)
    return compiled
