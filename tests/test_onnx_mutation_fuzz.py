"""A broken ONNX model is a user error, not a lamina bug (issue 13, part 7).

The zoo's models (examples/models/zoo.py) are mutated at the protobuf level, each mutation seeded
and named so that a failure can be replayed:

- bytes: bit flips, truncation and zeroed ranges, on the whole file, on the part before the
  weights, or on one node's or one initializer's serialized header (where they change structure
  rather than weights);
- structure: attributes dropped or changed (value, length, type), node inputs renamed (to
  nothing, to an unknown name, to a later node's output), outputs duplicated, nodes dropped,
  duplicated or swapped, initializers dropped, reshaped, retyped or cut short, graph input shapes
  and element types changed, op types and the opset changed.

Each mutated model goes through `lamina.load_onnx` (what `lamina import` runs), the -O3 passes and,
for the small models, the numpy interpreter on random inputs. The outcome must be a module or a
`LaminaError` with a one-line message: never another exception, a hang or a crash. The mutations
run in a child process (`--worker`), which reports each one before it starts: a crash (a signal)
names the mutation that caused it, and a new child goes on after it.

CI runs 300 mutations of the smaller models (~10 s on one core). A longer run, over every zoo model:

    LAMINA_FUZZ_MUTATIONS=5000 LAMINA_FUZZ_SEED=7 python -m pytest tests/test_onnx_mutation_fuzz.py
    HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_onnx_mutation_fuzz.py   # 5000, all models

and one mutation again, written out for `lamina import`:

    python tests/test_onnx_mutation_fuzz.py --replay MODEL SEED INDEX --save broken.onnx
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest


CI_MODELS = ("mlp", "glue", "tiny_yolo", "transformer_block", "squeezenet", "shufflenet")
ALL_MODELS = CI_MODELS + ("mobilenetv2", "resnet18", "alexnet")
INTERPRETED = ("mlp", "glue")  # cheap enough to run on every mutation
CI_MUTATIONS = 300
MUTATION_SECONDS = 60  # one mutation taking longer than this is a hang


# ---------------------------------------------------------------------------------------------
# The two bugs the issue names (through `lamina import`), and each check's message


def _lamina(*args, cwd=None):
    exe = Path(sys.executable).parent / "lamina"
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd)


def _import_error(graph, tmp_path) -> str:
    """The first line `lamina import` prints for `graph` saved as an opset-17 model; it must exit 1
    (a user error), not 2 (an internal one)."""
    import onnx
    from onnx import helper

    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    proc = _lamina("import", path)
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr
    return proc.stderr.splitlines()[0]


def test_concat_without_axis_is_a_user_error(tmp_path):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Concat", ["x", "y"], ["z"], name="cat")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((1, 2), np.float32), "y")])
    assert _import_error(graph, tmp_path) == "error: node 'cat' (Concat): the required attribute 'axis' is missing"


def test_initializer_shorter_than_its_shape_is_a_user_error(tmp_path):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    w.raw_data = w.raw_data[:20]  # 5 floats of the 12 its shape needs
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    assert _import_error(graph, tmp_path) == (
        "error: initializer 'w' has 20 bytes of raw data, but its shape [4, 3] of FLOAT needs 48")


def _relu_model():
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="act")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _break(how):
    """A conv and a relu, broken as `how` says (or not, for any other `how`)."""
    import numpy as np
    from onnx import AttributeProto, TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", strides=[1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="act")]
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    g = model.graph
    if how == "order":
        g.node[0].CopyFrom(nodes[1])
        g.node[1].CopyFrom(nodes[0])
    elif how == "twice":
        g.node[1].output[0] = "c"
    elif how == "attr type":
        g.node[0].attribute[0].type = AttributeProto.FLOATS
    elif how == "unknown attr":
        g.node[0].attribute.append(helper.make_attribute("stride", [1, 1]))
    elif how == "inputs":
        g.node[1].input.append("x")
    elif how == "empty input":
        g.node[0].input[1] = ""
    elif how == "strides":
        g.node[0].attribute[0].ints[:] = [0, 1]
    elif how == "negative dim":
        g.initializer[0].dims[0] = -2
    elif how == "typed data":
        g.initializer[0].ClearField("raw_data")
        g.initializer[0].float_data.extend([1.0] * 5)
    elif how == "input dim":
        g.input[0].type.tensor_type.shape.dim[0].dim_value = -1
    return model


@pytest.mark.parametrize("how, message", [
    ("order", "node 'act' (Relu) reads 'c' before node 'conv' (Conv) defines it"),
    ("twice", "node 'act' (Relu) defines 'c', which node 'conv' (Conv) defines already"),
    ("attr type", "node 'conv' (Conv): attribute 'strides' is FLOATS, but Conv takes INTS"),
    ("unknown attr", "node 'conv' (Conv): has an attribute 'stride', which Conv (opset 17) does not have"),
    ("inputs", "node 'act' (Relu): has 2 inputs, but Relu takes 1"),
    ("empty input", "node 'conv' (Conv): input #1 (W) is empty, but Conv needs it"),
    ("strides", "node 'conv' (Conv): attribute strides=[0, 1] needs 2 values of at least 1 (one per spatial dim)"),
    ("negative dim", "initializer 'w' has the shape [-2, 1, 3, 3], with a negative dimension"),
    ("typed data", "initializer 'w' has 5 values in float_data, but its shape [2, 1, 3, 3] of FLOAT needs 18 values"),
    ("input dim", "graph input 'x' has the shape [-1, 1, 5, 5], with a negative dimension"),
])
def test_what_onnx_checker_rejects_is_one_sentence_naming_the_part(how, message):
    import lamina
    from lamina.compiler.frontends.onnx import OnnxImportError

    with pytest.raises(OnnxImportError) as info:
        lamina.load_onnx(_break(how))
    assert info.value.message == message
    assert "onnx.checker" in info.value.hint


def test_the_unbroken_model_imports():
    import lamina

    assert [op.name for op in lamina.load_onnx(_break("nothing")).walk()][-3:] == [
        "nn.conv2d", "nn.relu", "func.return"]


def test_a_converter_that_trips_on_a_model_the_checker_rejects_names_the_node(monkeypatch):
    """What no check before converting catches and a converter trips on: when onnx.checker
    rejects the model, the error is the model's (one line, naming the node and the checker's
    reason); when the checker accepts it, the exception stays a lamina bug."""
    import pytest

    import lamina
    from lamina.compiler.frontends.onnx import CONVERTERS, OnnxImportError

    def trips(ctx, node):
        raise TypeError("unsupported operand")
    monkeypatch.setitem(CONVERTERS, "Relu", trips)
    model = _relu_model()
    model.graph.name = ""  # onnx.checker: "Field 'name' of 'graph' is required to be non-empty."
    with pytest.raises(OnnxImportError) as info:
        lamina.load_onnx(model)
    assert info.value.message == ("node 'act' (Relu): cannot be converted (TypeError: unsupported operand); "
                                  "onnx.checker says: Field 'name' of 'graph' is required to be non-empty.")
    with pytest.raises(TypeError):
        lamina.load_onnx(_relu_model())


# ---------------------------------------------------------------------------------------------
# Mutations


def onnx_value(a):
    try:
        from onnx import helper

        return helper.get_attribute_value(a)
    except Exception as e:
        return f"<{e}>"



class Mutator:
    """Mutation `index` of `model` for `seed`: the same arguments give the same bytes."""

    def __init__(self):
        from lamina.runtime.benchmark import zoo_module

        self.zoo = zoo_module()
        self.models: dict[str, object] = {}

    def base(self, name: str):
        if name not in self.models:
            self.models[name] = self.zoo.MODELS[name]()
        return self.models[name]

    def mutate(self, name: str, seed: int, index: int) -> tuple[str, bytes]:
        import onnx

        rng = random.Random(f"{name}:{seed}:{index}")
        model = onnx.ModelProto()
        model.CopyFrom(self.base(name))
        kinds = [k for k in dir(self) if k.startswith("m_")]
        for _ in range(8):  # a kind that does not apply to this model (no attributes...) draws again
            kind = rng.choice(kinds)
            result = getattr(self, kind)(rng, model)
            if result is not None:
                what, data = result if isinstance(result, tuple) else (result, None)
                return f"{kind[2:]}: {what}", data if data is not None else model.SerializeToString()
        return "none", model.SerializeToString()

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _names(model) -> list[str]:
        g = model.graph
        return ([i.name for i in g.input] + [t.name for t in g.initializer]
                + [o for n in g.node for o in n.output if o])

    @staticmethod
    def _odd_int(rng):
        return rng.choice([0, -1, 1, 2, 3, 7, -7, 1 << 31, 1 << 62, -(1 << 62), rng.randint(-100, 100)])

    @staticmethod
    def _flip(rng, data: bytes, start: int = 0, end: int | None = None) -> tuple[str, bytes]:
        buf = bytearray(data)
        end = len(buf) if end is None else min(end, len(buf))
        if end <= start:
            return "nothing to flip", bytes(buf)
        kind = rng.choice(["flip", "flip", "truncate", "zero"])
        if kind == "flip":
            spots = [rng.randrange(start, end) for _ in range(rng.randint(1, 8))]
            for s in spots:
                buf[s] ^= 1 << rng.randrange(8)
            return f"bits flipped at {spots}", bytes(buf)
        if kind == "truncate":
            at = rng.randrange(start, end)
            return f"truncated at byte {at} of {len(buf)}", bytes(buf[:at])
        at = rng.randrange(start, end)
        n = rng.randint(1, 64)
        buf[at:at + n] = bytes(len(buf[at:at + n]))
        return f"{n} bytes zeroed at {at}", bytes(buf)

    # -- bytes ----------------------------------------------------------------------------------

    def m_bytes_file(self, rng, model):
        return self._flip(rng, model.SerializeToString())

    def m_bytes_structure(self, rng, model):
        """The bytes before the first initializer: the model's header, opsets and the nodes."""
        whole = model.SerializeToString()
        first = whole.find(model.graph.initializer[0].SerializeToString()) if model.graph.initializer else -1
        return self._flip(rng, whole, 0, first if first > 0 else len(whole))

    def m_bytes_node(self, rng, model):
        """Bits of one node's message, parsed back into the node (else: the damaged file)."""
        import onnx

        if not model.graph.node:
            return None
        i = rng.randrange(len(model.graph.node))
        node = model.graph.node[i]
        what, data = self._flip(rng, node.SerializeToString())
        fresh = onnx.NodeProto()
        try:
            fresh.ParseFromString(data)
        except Exception:
            return f"node #{i} unparseable ({what})", self._splice(model, node, data)
        node.CopyFrom(fresh)
        return f"node #{i} ({what})"

    def m_bytes_initializer(self, rng, model):
        """The header of one initializer (dims, type, name come before its data)."""
        import onnx

        if not model.graph.initializer:
            return None
        i = rng.randrange(len(model.graph.initializer))
        init = model.graph.initializer[i]
        data = init.SerializeToString()
        what, data = self._flip(rng, data, 0, 48)
        fresh = onnx.TensorProto()
        try:
            fresh.ParseFromString(data)
        except Exception:
            return f"initializer #{i} unparseable ({what})", self._splice(model, init, data)
        init.CopyFrom(fresh)
        return f"initializer '{init.name}' ({what})"

    @staticmethod
    def _splice(model, part, damaged: bytes) -> bytes:
        """The file with `part`'s bytes replaced by `damaged` (when they can be found)."""
        whole, old = model.SerializeToString(), part.SerializeToString()
        at = whole.find(old)
        return whole if at < 0 else whole[:at] + damaged + whole[at + len(old):]

    # -- attributes -----------------------------------------------------------------------------

    def _attribute(self, rng, model):
        nodes = [n for n in model.graph.node if n.attribute]
        if not nodes:
            return None, None
        node = rng.choice(nodes)
        return node, rng.randrange(len(node.attribute))

    def m_drop_attribute(self, rng, model):
        node, i = self._attribute(rng, model)
        if node is None:
            return None
        name = node.attribute[i].name
        del node.attribute[i]
        return f"{node.name} ({node.op_type}) loses '{name}'"

    def m_change_attribute(self, rng, model):
        from onnx import AttributeProto as A

        node, i = self._attribute(rng, model)
        if node is None:
            return None
        a = node.attribute[i]
        how = rng.choice(["value", "value", "value", "type", "rename"])
        if how == "type":
            a.type = rng.choice([A.UNDEFINED, A.INT, A.FLOAT, A.INTS, A.FLOATS, A.STRING, A.TENSOR, A.GRAPH])
            return f"{node.name} ({node.op_type}) '{a.name}' gets type {a.type}"
        if how == "rename":
            old, a.name = a.name, rng.choice(["", "bogus", "axis", "axes", "kernel_shape", "pads", "perm"])
            return f"{node.name} ({node.op_type}) '{old}' renamed '{a.name}'"
        if a.type == A.INT:
            a.i = self._odd_int(rng)
        elif a.type == A.FLOAT:
            a.f = rng.choice([0.0, -1.0, float("nan"), float("inf"), 1e30, -1e-30])
        elif a.type == A.INTS:
            values = list(a.ints)
            op = rng.choice(["drop", "add", "set", "clear"])
            if op == "drop" and values:
                values.pop(rng.randrange(len(values)))
            elif op == "add":
                values.insert(rng.randint(0, len(values)), self._odd_int(rng))
            elif op == "set" and values:
                values[rng.randrange(len(values))] = self._odd_int(rng)
            else:
                values = []
            del a.ints[:]
            a.ints.extend(values)
        elif a.type == A.FLOATS:
            a.floats.append(float("nan"))
        elif a.type == A.STRING:
            a.s = rng.choice([b"", b"bogus", b"SAME_UPPER", b"VALID", b"\xff\xfe", b"linear", b"DCR"])
        elif a.type == A.TENSOR:
            self._damage_tensor(rng, a.t)
        else:
            return None
        value = str(onnx_value(a))[:60]
        return f"{node.name} ({node.op_type}) '{a.name}' = {value}"

    # -- inputs, outputs, nodes -----------------------------------------------------------------

    def m_rename_input(self, rng, model):
        nodes = [n for n in model.graph.node if n.input]
        if not nodes:
            return None
        index = rng.randrange(len(nodes))
        node = nodes[index]
        i = rng.randrange(len(node.input))
        later = [o for n in nodes[index:] for o in n.output]
        node.input[i] = rng.choice(["", "no_such_value", rng.choice(self._names(model)), rng.choice(later)])
        return f"{node.name} ({node.op_type}) input #{i} reads '{node.input[i]}'"

    def m_change_input_count(self, rng, model):
        nodes = list(model.graph.node)
        if not nodes:
            return None
        node = rng.choice(nodes)
        if node.input and rng.random() < 0.5:
            node.input.pop()
            return f"{node.name} ({node.op_type}) loses its last input"
        node.input.append(rng.choice(self._names(model) + [""]))
        return f"{node.name} ({node.op_type}) gets input '{node.input[-1]}'"

    def m_rename_output(self, rng, model):
        nodes = [n for n in model.graph.node if n.output]
        if not nodes:
            return None
        node = rng.choice(nodes)
        i = rng.randrange(len(node.output))
        node.output[i] = rng.choice(["", rng.choice(self._names(model)), "fresh_name"])
        return f"{node.name} ({node.op_type}) output #{i} is '{node.output[i]}'"

    def m_nodes(self, rng, model):
        nodes = model.graph.node
        if len(nodes) < 2:
            return None
        i, j = rng.randrange(len(nodes)), rng.randrange(len(nodes))
        how = rng.choice(["drop", "duplicate", "swap", "op_type"])
        if how == "drop":
            name = nodes[i].name
            del nodes[i]
            return f"node {name} dropped"
        if how == "duplicate":
            nodes.add().CopyFrom(nodes[i])
            return f"node {nodes[i].name} duplicated"
        if how == "swap":
            a, b = type(nodes[i])(), type(nodes[j])()
            a.CopyFrom(nodes[i])
            b.CopyFrom(nodes[j])
            nodes[i].CopyFrom(b)
            nodes[j].CopyFrom(a)
            return f"nodes #{i} and #{j} swapped"
        nodes[i].op_type = rng.choice(["Concat", "Conv", "Relu", "Reshape", "MaxPool", "Gemm", "Split",
                                       "Slice", "Transpose", "Softmax", "Gather", "Resize", "Pad", "NoSuchOp"])
        return f"node {nodes[i].name} becomes {nodes[i].op_type}"

    # -- initializers, shapes, types --------------------------------------------------------------

    def _damage_tensor(self, rng, t):
        how = rng.choice(["dims", "dims", "type", "short", "long", "negative", "typed_data"])
        if how == "dims" and t.dims:
            t.dims[rng.randrange(len(t.dims))] = self._odd_int(rng)
        elif how == "dims":
            t.dims.append(rng.randint(0, 5))
        elif how == "type":
            t.data_type = rng.choice([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 99])
        elif how == "short" and t.raw_data:
            t.raw_data = t.raw_data[:rng.randrange(len(t.raw_data))]
        elif how == "long" and t.raw_data:
            t.raw_data = t.raw_data + bytes(rng.randint(1, 9))
        elif how == "negative":
            t.dims.insert(0, -rng.randint(1, 4))
        else:
            t.float_data.extend([1.0] * rng.randint(1, 3))
        return how

    def m_initializer(self, rng, model):
        inits = model.graph.initializer
        if not inits:
            return None
        i = rng.randrange(len(inits))
        how = rng.choice(["damage", "damage", "damage", "drop", "rename", "empty_name", "duplicate"])
        name = inits[i].name
        if how == "damage":
            return f"initializer '{name}': {self._damage_tensor(rng, inits[i])}"
        if how == "drop":
            del inits[i]
        elif how == "rename":
            inits[i].name = "renamed_" + name
        elif how == "empty_name":
            inits[i].name = ""
        else:
            inits.add().CopyFrom(inits[i])
        return f"initializer '{name}': {how}"

    def m_graph_io(self, rng, model):
        g = model.graph
        how = rng.choice(["dim", "dim", "rank", "elem_type", "no_shape", "drop_output", "drop_input",
                          "output_name"])
        if how == "drop_output" and len(g.output):
            del g.output[rng.randrange(len(g.output))]
            return "a graph output dropped"
        if how == "output_name" and len(g.output):
            g.output[0].name = rng.choice(self._names(model) + ["nowhere"])
            return f"graph output 0 is '{g.output[0].name}'"
        if how == "drop_input" and len(g.input):
            del g.input[rng.randrange(len(g.input))]
            return "a graph input dropped"
        info = rng.choice(list(g.input) + list(g.output))
        tt = info.type.tensor_type
        if how == "elem_type":
            tt.elem_type = rng.choice([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 16, 99])
            return f"'{info.name}' has element type {tt.elem_type}"
        if how == "no_shape":
            tt.ClearField("shape")
            return f"'{info.name}' loses its shape"
        dims = tt.shape.dim
        if how == "rank" or not dims:
            if dims and rng.random() < 0.5:
                del dims[rng.randrange(len(dims))]
            else:
                dims.add().dim_value = rng.randint(1, 3)
            return f"'{info.name}' has rank {len(dims)}"
        d = dims[rng.randrange(len(dims))]
        choice = rng.choice(["zero", "negative", "huge", "param", "odd"])
        if choice == "param":
            d.dim_param = "N"
        else:
            d.dim_value = {"zero": 0, "negative": -3, "huge": 1 << 40, "odd": rng.randint(1, 9)}[choice]
        return f"'{info.name}' dim {choice}"

    def m_opset(self, rng, model):
        for entry in model.opset_import:
            if entry.domain in ("", "ai.onnx"):
                entry.version = rng.choice([0, 1, 7, 8, 10, 11, 12, 13, 99])
                return f"opset {entry.version}"
        return None

    def m_cast_target(self, rng, model):
        from onnx import AttributeProto as A

        casts = [a for n in model.graph.node for a in n.attribute if a.name == "to" and a.type == A.INT]
        if not casts:
            return None
        a = rng.choice(casts)
        a.i = rng.choice([0, 8, 14, 15, 17, 99])
        return f"a Cast to {a.i}"


# ---------------------------------------------------------------------------------------------
# Checking one mutated model (in the worker)


def _random_inputs(module, rng):
    import numpy as np

    fn = next(op for op in module.block if op.name == "func.func")
    arrays = []
    for arg in fn.entry.args:
        t = arg.type
        if not t.has_static_shape or t.num_elements > 1 << 16:
            return None
        dtype = t.element_type.numpy_dtype
        if dtype.kind == "f":
            arrays.append(rng.standard_normal(t.shape).astype(dtype))
        elif dtype.kind == "b":
            arrays.append(rng.random(t.shape) < 0.5)
        else:
            arrays.append(rng.integers(0, 3, t.shape).astype(dtype))
    return arrays


def check(data: bytes, interpret: bool) -> tuple[str, str]:
    """("ok" | "refused" | "bug", detail) for one mutated model."""
    import numpy as np

    import lamina
    from lamina.compiler.errors import LaminaError
    from lamina.compiler.passes.presets import pipeline_for

    try:
        module = lamina.load_onnx(data)
        lamina.run_pipeline(module, pipeline_for(3))
        if interpret:
            inputs = _random_inputs(module, np.random.default_rng(0))
            if inputs is not None:
                with np.errstate(all="ignore"):
                    lamina.interpret(module, *inputs)
    except LaminaError as e:
        if "\n" in e.message or not e.message.strip():
            return "bug", f"an error message that is not one line: {e.message!r}"
        return "refused", e.message
    except Exception:
        return "bug", traceback.format_exc(limit=12)
    return "ok", ""


class _Timeout(Exception):
    pass


def worker(models: list[str], seed: int, start: int, count: int) -> None:
    """Check mutations start..count-1, one JSON line before ("start") and after each."""
    import faulthandler
    import resource
    import signal

    faulthandler.enable()
    limit = 6 << 30  # a mutation that makes a huge tensor fails with MemoryError, not the machine
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def on_alarm(signum, frame):
        raise _Timeout(f"took more than {MUTATION_SECONDS} s")
    signal.signal(signal.SIGALRM, on_alarm)

    mutator = Mutator()
    for index in range(start, count):
        name = models[index % len(models)]
        what, data = mutator.mutate(name, seed, index)
        print(json.dumps({"start": index, "mutation": what}), flush=True)
        signal.alarm(MUTATION_SECONDS)
        t0 = time.process_time()
        try:
            outcome, detail = check(data, interpret=name in INTERPRETED)
        except _Timeout as e:
            outcome, detail = "bug", f"hang: {e}"
        finally:
            signal.alarm(0)
        print(json.dumps({"index": index, "model": name, "mutation": what, "outcome": outcome,
                          "detail": detail[-3000:], "cpu": time.process_time() - t0}), flush=True)


def run_mutations(models, seed: int, count: int) -> list[dict]:
    """Every mutation's record; a child that dies is restarted after the mutation it died on."""
    records: list[dict] = []
    start = 0
    while start < count:
        proc = subprocess.run([sys.executable, __file__, "--worker", ",".join(models), str(seed),
                               str(start), str(count)], capture_output=True, text=True,
                              timeout=MUTATION_SECONDS * 4 + count * 5)
        started = None
        for line in proc.stdout.splitlines():
            if not line.startswith("{"):  # anything else a library printed
                continue
            record = json.loads(line)
            if "start" in record:
                started = record
            else:
                records.append(record)
                started = None
        if proc.returncode == 0:
            break
        if started is None:  # died before any mutation: the harness itself is broken
            raise AssertionError(f"the fuzz worker failed:\n{proc.stderr[-4000:]}")
        index = started["start"]
        records.append({"index": index, "model": models[index % len(models)], "outcome": "bug",
                        "mutation": started["mutation"],
                        "detail": f"crash: exit {proc.returncode}\n{proc.stderr[-3000:]}"})
        start = index + 1
    return records


def _settings() -> tuple[tuple[str, ...], int, int]:
    thorough = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
    count = int(os.environ.get("LAMINA_FUZZ_MUTATIONS", 5000 if thorough else CI_MUTATIONS))
    seed = int(os.environ.get("LAMINA_FUZZ_SEED", 0))
    models = ALL_MODELS if thorough or count > CI_MUTATIONS else CI_MODELS
    return models, seed, count


def test_mutated_zoo_models_import_or_give_a_user_error():
    models, seed, count = _settings()
    t0 = time.monotonic()
    records = run_mutations(models, seed, count)
    bugs = [r for r in records if r["outcome"] == "bug"]
    tally = {k: sum(r["outcome"] == k for r in records) for k in ("ok", "refused", "bug")}
    cpu = sum(r.get("cpu", 0.0) for r in records)
    print(f"\n{count} mutations of {', '.join(models)} (seed {seed}): {tally}, "
          f"{cpu:.1f} s CPU in checks, {time.monotonic() - t0:.1f} s in all")
    assert len(records) == count
    assert not bugs, "\n\n".join(
        f"#{b['index']} {b['model']} {b['mutation']} (replay: python {Path(__file__).name} --replay "
        f"{b['model']} {seed} {b['index']})\n{b['detail']}" for b in bugs[:5]) + f"\n({len(bugs)} in all)"


# ---------------------------------------------------------------------------------------------
# Command line: the worker, and replaying one mutation


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=4, metavar=("MODELS", "SEED", "START", "COUNT"))
    parser.add_argument("--replay", nargs=3, metavar=("MODEL", "SEED", "INDEX"))
    parser.add_argument("--save", type=Path, help="with --replay: write the mutated model here")
    args = parser.parse_args(argv)
    if args.worker:
        models, seed, start, count = args.worker
        worker(models.split(","), int(seed), int(start), int(count))
        return 0
    if args.replay:
        name, seed, index = args.replay
        what, data = Mutator().mutate(name, int(seed), int(index))
        print(f"{name} #{index}: {what}")
        if args.save:
            args.save.write_bytes(data)
        outcome, detail = check(data, interpret=name in INTERPRETED)
        print(outcome, detail)
        return 0 if outcome != "bug" else 1
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
