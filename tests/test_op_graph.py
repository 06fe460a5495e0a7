"""`lamina opt --view-op-graph` (compiler/opgraph.py): the dot text checked structurally against
the module it draws (a node per op, an edge per operand, a cluster per fused group named by its
kernel), the CLI's files, and the rendering where Graphviz's dot program is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

import lamina
from lamina.compiler.location import kernel_names
from lamina.compiler.opgraph import op_graph

MODEL = """
func.func @main(%x: tensor<1x8x10x10xf32>, %w: tensor<16x8x3x3xf32>, %b: tensor<16xf32>,
                %skip: tensor<1x16x8x8xf32>) -> tensor<1x16x8x8xf32> {
  %c = nn.conv2d %x, %w, %b : (tensor<1x8x10x10xf32>, tensor<16x8x3x3xf32>, tensor<16xf32>) -> tensor<1x16x8x8xf32> loc("conv1")
  %r = nn.relu %c : (tensor<1x16x8x8xf32>) -> tensor<1x16x8x8xf32> loc("relu1")
  %s = nn.add %r, %skip : (tensor<1x16x8x8xf32>, tensor<1x16x8x8xf32>) -> tensor<1x16x8x8xf32> loc("add1")
  %m = nn.max_pool2d %s attributes {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x16x8x8xf32>) -> tensor<1x16x4x4xf32> loc("pool1")
  %e = nn.exp %m : (tensor<1x16x4x4xf32>) -> tensor<1x16x4x4xf32> loc("exp1")
  %u = nn.global_avg_pool %s : (tensor<1x16x8x8xf32>) -> tensor<1x16x1x1xf32> loc("gap")
  func.return %s : tensor<1x16x8x8xf32>
}
"""

NODE = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)", shape=(\w+)\];$', re.M)
EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)(?: \[label=(\d+)\])?;$", re.M)
CLUSTER = re.compile(r'^\s*subgraph (cluster_\w+) \{ label="((?:[^"\\]|\\.)*)";', re.M)


def fused_module():
    module = lamina.parse(MODEL)
    lamina.run_pipeline(module, "fuse")
    return module


def drawn_ops(module):
    """The ops the graph draws: every op inside the function but groups and their yields."""
    func = next(op for op in module.walk() if op.name == "func.func")
    return [op for op in func.walk() if op is not func and op.name not in ("nn.fused", "nn.yield")]


def test_a_node_per_op_an_edge_per_operand_a_cluster_per_group():
    module = fused_module()
    text = op_graph(module)
    nodes = {name: (label, shape) for name, label, shape in NODE.findall(text)}
    ops = drawn_ops(module)
    args = [a for op in module.walk() if op.name == "func.func" for a in op.regions[0].blocks[0].args]
    assert sum(shape == "box" for _, shape in nodes.values()) == len(ops)
    assert sum(shape == "ellipse" for _, shape in nodes.values()) == len(args) == 4
    labels = sorted(label.split("\\n")[0] for label, shape in nodes.values() if shape == "box")
    assert labels == sorted(op.name for op in ops)
    # each op's label carries its result types
    relu = next(label for label, _ in nodes.values() if label.startswith("nn.relu"))
    assert relu == "nn.relu\\ntensor<1x16x8x8xf32>"
    edges = EDGE.findall(text)
    assert all(a in nodes and b in nodes for a, b, _ in edges)
    # an edge per operand: through a group, from the value's producer to the inner op reading it
    assert len(edges) == sum(len(op.operands) for op in ops)
    groups = [op for op in module.walk() if op.name == "nn.fused"]
    clusters = [label for name, label in CLUSTER.findall(text) if not label.startswith("func @")]
    assert groups and clusters == [f"kernel {n}" for n in kernel_names(groups)]
    assert "func @main" in text


def test_the_graph_of_an_unfused_module_has_no_kernel_clusters():
    text = op_graph(lamina.parse(MODEL))
    assert [label for _, label in CLUSTER.findall(text)] == ["func @main"]
    assert len(NODE.findall(text)) == 4 + 7  # 4 arguments, 6 ops and the return


def lamina_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lamina", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_cli_writes_the_dot_file_and_the_ir_still_goes_to_stdout(tmp_path):
    source = tmp_path / "m.mlir"
    source.write_text(MODEL)
    r = lamina_cli("opt", source, "-p", "fuse", "--view-op-graph", tmp_path / "g.dot")
    assert r.returncode == 0, r.stderr
    assert "nn.fused" in r.stdout and "func.func @main" in r.stdout
    assert (tmp_path / "g.dot").read_text() == op_graph(fused_module())
    # never over an input
    r = lamina_cli("opt", source, "--view-op-graph", source)
    assert r.returncode == 1 and "refusing to write" in r.stderr and source.read_text() == MODEL


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed (Debian: graphviz)")
@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_cli_renders_with_graphviz(tmp_path, suffix):
    source = tmp_path / "m.mlir"
    source.write_text(MODEL)
    r = lamina_cli("opt", source, "-p", "fuse", "--view-op-graph", tmp_path / f"g{suffix}")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g.dot").exists()
    data = (tmp_path / f"g{suffix}").read_bytes()
    if suffix == ".svg":
        text = data.decode()
        assert "<svg" in text and "kernel conv1+relu1+add1" in text and "nn.max_pool2d" in text
    else:
        assert data.startswith(b"\x89PNG")
