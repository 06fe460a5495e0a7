"""`lamina compare` (runtime/node_compare.py): every ONNX node's value, lamina against onnxruntime.

Every zoo model agrees node by node and the table lists every node output, in graph order. CI
runs the cheap models at -O0 and -O3 and the others at -O3 only (at -O0 every op of a big model
is a kernel of its own to build; tests/test_lowering_cpu.py checks each op's kernel alone);
a thorough run (tests/budget.py) runs every model at both. A kernel made wrong on purpose (one op's TE
compute, for one node) must be named as the first diverging node, through the CLI with exit 1.
"""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import lamina  # noqa: E402
from lamina.compiler.cli import main  # noqa: E402
from lamina.compiler.location import node_names  # noqa: E402
from lamina.lowering import tvm_adapter  # noqa: E402
from lamina.lowering.te import COMPUTES  # noqa: E402
from lamina.runtime.benchmark import zoo_models  # noqa: E402

from budget import in_ci  # noqa: E402


ZOO_CASES = [(m, level) for m in zoo_models() for level in (0, 3) if in_ci(m, main_config=level == 3)]


@pytest.fixture(autouse=True)
def shared_kernels(kernel_dir, monkeypatch):
    """The session's kernel cache (tests/conftest.py): the fused kernels are those `lamina run`'s
    tests build too. A kernel made wrong below has TIR of its own, so its own cache entry."""
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(kernel_dir))


def node_outputs(model) -> list[tuple[int, str]]:
    return [(i, o) for i, node in enumerate(model.graph.node) for o in node.output if o]


@pytest.mark.parametrize("name,level", ZOO_CASES, ids=[f"{m}-O{o}" for m, o in ZOO_CASES])
def test_zoo_model_agrees_node_by_node(zoo, name, level):
    path = zoo / f"{name}.onnx"
    table = lamina.compare(str(path), opt_level=level)
    assert table.ok, table.report()
    assert table.first_diverging is None
    model = onnx.load(str(path), load_external_data=False)
    assert [(r.index, r.output) for r in table.rows] == node_outputs(model)  # every node, in order
    compared = [r for r in table.rows if r.status == "ok"]
    assert compared and all(r.max_abs is not None for r in compared)
    assert all(r.status in ("ok", "folded", "removed") for r in table.rows), table.report()
    if level == 0:  # without passes nothing is folded, and only glue's shape arithmetic (which
        # the importer evaluates) is removed
        assert all(r.status == "ok" or (name == "glue" and r.status == "removed") for r in table.rows)


# -- a small model: folds, fusion, unnamed nodes, a node with two outputs --------------------------


def small_model():
    rng = np.random.default_rng(0)

    def init(name, shape, positive=False):
        a = rng.standard_normal(shape).astype(np.float32)
        return numpy_helper.from_array(np.abs(a) + 0.5 if positive else a, name)

    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["b"], name="bn"),
        helper.make_node("Relu", ["b"], ["r"]),  # no name: shown as its output, "r"
        helper.make_node("Mul", ["r", "k"], ["m"], name="scale"),
        helper.make_node("Split", ["m"], ["s0", "s1"], name="split", axis=1),
        helper.make_node("Add", ["s0", "s1"], ["sum"]),  # no name
        helper.make_node("Sigmoid", ["sum"], ["y"], name="out"),
    ]
    graph = helper.make_graph(
        nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])],
        [init("w", [4, 3, 3, 3]), init("gamma", [4]), init("beta", [4]), init("mean", [4]),
         init("var", [4], positive=True), init("k", [1, 4, 1, 1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.onnx"
    onnx.save(small_model(), str(path))
    return path


def test_rows_name_fold_and_split(small):
    table = lamina.compare(str(small))
    assert table.ok, table.report()
    assert [r.node for r in table.rows] == ["conv", "bn", "r", "scale", "split", "split", "sum", "out"]
    assert [r.label for r in table.rows][4:6] == ["split#0", "split#1"]
    conv = table.row("conv")
    assert (conv.status, conv.folded_into) == ("folded", "bn")  # batch_norm folded into the conv
    assert table.row("split", 1).output == "s1" and table.row("split", 1).shape == [1, 2, 8, 8]
    assert table.row("out").lamina.startswith("fused kernel") or table.row("out").lamina.startswith("kernel")
    assert any(r.lamina.startswith("alone, from fused kernel") for r in table.rows), table.report()
    at_o0 = lamina.compare(str(small), opt_level=0, inputs={"x": np.ones((1, 3, 8, 8), np.float32)})
    assert at_o0.ok and all(r.status == "ok" for r in at_o0.rows), at_o0.report()


def wrong_for(node: str, op_name: str):
    """The TE compute of `op_name`, doubled for the op that came from ONNX node `node`."""
    right = COMPUTES[op_name]

    def compute(op, *tensors):
        out = right(op, *tensors)
        if node not in node_names(op):
            return out
        return tvm_adapter.te.compute(out.shape, lambda *i: out(*i) + out(*i), name="wrong")
    return compute


@pytest.mark.parametrize("level", [0, 3])
def test_a_wrong_kernel_is_the_first_diverging_node(small, tmp_path, monkeypatch, capsys, level):
    monkeypatch.setitem(COMPUTES, "nn.mul", wrong_for("scale", "nn.mul"))
    out = tmp_path / "table.json"
    code = main(["compare", str(small), f"-O{level}", "--fill", "random", "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 1, text
    assert "first diverging node: scale (Mul): its inputs agree [r (ok), k (initializer)]" in text
    rows = {line.split()[1]: line for line in text.splitlines() if line.startswith(">")}
    assert "scale" in rows and "r" not in rows  # marked: the node and what follows it, not before
    data = json.loads(out.read_text())
    assert data["first_diverging"] == "scale" and data["ok"] is False
    statuses = {r["label"]: r["status"] for r in data["rows"]}
    assert statuses["r"] == "ok" and statuses["scale"] == "diverges" and statuses["out"] == "diverges"


def test_a_wrong_fused_kernel_inside_resnet(zoo, monkeypatch):
    """In ResNet-18 at -O3, layer2.0.add sits inside a fused kernel with its conv and relu: the
    add alone and the fused kernel are both wrong, everything before agrees."""
    monkeypatch.setitem(COMPUTES, "nn.add", wrong_for("layer2.0.add", "nn.add"))
    table = lamina.compare(str(zoo / "resnet18.onnx"))
    first = table.first_diverging
    assert first is not None and first.node == "layer2.0.add", table.report()
    assert first.lamina.startswith("alone, from fused kernel")
    assert table.row("layer2.0.relu2").status == "diverges"
    assert all(r.status != "diverges" for r in table.rows[:table.rows.index(first)])


def test_cli_json_to_stdout_and_errors(small, tmp_path, capsys):
    assert main(["compare", str(small), "--fill", "random", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["first_diverging"] is None and len(data["rows"]) == 8
    assert main(["compare", str(small)]) == 1  # no --input, no --fill: the error names the input
    assert "no value for input x" in capsys.readouterr().err
    assert main(["compare", str(small), "--fill", "random", "--json", str(small)]) == 1
    assert "refusing to write" in capsys.readouterr().err
    x = tmp_path / "x.npy"
    np.save(x, np.ones((1, 3, 8, 8), np.float32))
    assert main(["compare", str(small), "--input", f"x={x}"]) == 0
    assert "no node diverges" in capsys.readouterr().out
