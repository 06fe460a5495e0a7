"""The dataflow graph of a module as Graphviz dot: `lamina opt FILE --view-op-graph=g.dot`, after
MLIR's `-view-op-graph`.

One node per op, labelled with the op's name and its result types; a function's arguments are
nodes of their own (ellipses), and each function is a cluster. An edge runs from the op that
defines a value to each op that uses it, labelled with the operand's position when its user has
several operands. A fused group (`nn.fused`) is drawn as a cluster named by its kernel (the name
`lamina compile --emit-schedules` gives its schedule file) around the ops it runs: its operands
lead straight to the inner ops that read them, and the value it yields to the ops that use its
results, so the picture shows the ops as they compute, grouped as they run.

`write_op_graph` writes the dot text; for a path ending in .svg or .png it also writes the .dot
beside it and renders it with Graphviz's `dot` program (Debian's `graphviz` package).
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .errors import LaminaError
from .ir import Operation
from .location import kernel_names

RENDERED = (".svg", ".png")
MAX_LABEL = 60  # characters of a result type in a label; longer types are cut with "..."


class OpGraphError(LaminaError):
    """A graph that cannot be written or rendered."""


def op_graph(module: Operation) -> str:
    """The dot text of every function in `module` (or of `module` itself when it is one)."""
    return _Graph().render(module)


class _Graph:
    def __init__(self):
        self.ids: dict[int, str] = {}  # id(op or block argument) -> dot node name
        self.source: dict[int, str] = {}  # id(value) -> the node that defines it, through groups
        self.lines: list[str] = []
        self.edge_lines: list[str] = []  # after every node: an edge inside a cluster would pull its ends in

    def node(self, key, *lines: str, shape: str = "box") -> str:
        name = f"n{len(self.ids)}"
        self.ids[id(key)] = name
        label = "\\n".join(_escape(line) for line in lines if line)
        self.lines.append(f'{name} [label="{label}", shape={shape}];')
        return name

    def render(self, module: Operation) -> str:
        functions = [module] if module.name == "func.func" else \
            [op for op in module.walk() if op.name == "func.func"]
        for f, func in enumerate(functions):
            self.lines.append(f'subgraph cluster_f{f} {{ label="func @{_escape(_symbol(func))}"; style=rounded;')
            for block in (b for region in func.regions for b in region.blocks):
                for arg in block.args:
                    self.source[id(arg)] = self.node(arg, f"%{arg.name_hint or 'arg' + str(arg.index)}: "
                                                          f"{_short(str(arg.type))}", shape="ellipse")
                self.ops(block.ops)
            self.lines.append("}")
        return "digraph lamina {\n  rankdir=TB; node [fontname=monospace, fontsize=10];\n" + \
            "".join(f"  {line}\n" for line in self.lines + self.edge_lines) + "}\n"

    def ops(self, ops: list[Operation]) -> None:
        groups = [op for op in ops if op.name == "nn.fused"]
        names = dict(zip(map(id, groups), kernel_names(groups)))
        for op in ops:
            if op.name == "nn.fused":
                self.group(op, names[id(op)])
            else:
                self.op(op)

    def op(self, op: Operation) -> None:
        types = ", ".join(_short(str(t)) for t in op.result_types)
        name = self.node(op, op.name, types)
        for result in op.results:
            self.source[id(result)] = name
        self.edges(op, name)

    def group(self, group: Operation, kernel: str) -> None:
        body = group.regions[0].blocks[0]
        for arg, operand in zip(body.args, group.operands):  # the group's arguments are its operands
            self.source[id(arg)] = self.source.get(id(operand), "")
        self.lines.append(f'subgraph cluster_{self.ids.setdefault(id(group), f"g{len(self.ids)}")} {{ '
                          f'label="kernel {_escape(kernel)}"; style=filled; fillcolor="#eef3fb";')
        inner = [op for op in body.ops if op.name != "nn.yield"]
        self.ops(inner)
        self.lines.append("}")
        yielded = body.ops[-1]
        for result, value in zip(group.results, yielded.operands):
            self.source[id(result)] = self.source.get(id(value), "")

    def edges(self, op: Operation, name: str) -> None:
        several = len(op.operands) > 1
        for i, value in enumerate(op.operands):
            source = self.source.get(id(value))
            if source:
                self.edge_lines.append(f"{source} -> {name}{f' [label={i}]' if several else ''};")


def _symbol(func: Operation) -> str:
    return getattr(getattr(func, "sym_name", None), "value", None) or "?"


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 3] + "..."


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def write_op_graph(module: Operation, path: str, inputs=()) -> list[str]:
    """Write `module`'s graph to `path` (.dot; .svg or .png: the .dot beside it, rendered with
    Graphviz's `dot`); return the paths written. `inputs`: files it may not overwrite."""
    from .files import write_output

    text = op_graph(module)
    stem, suffix = os.path.splitext(path)
    if suffix not in RENDERED:
        write_output(path, text, inputs, what="the graph")
        return [path]
    dot_path = stem + ".dot"
    write_output(dot_path, text, inputs, what="the graph")
    dot = shutil.which("dot")
    if dot is None:
        raise OpGraphError(f"wrote {dot_path}, but cannot render {path}: Graphviz's dot program is not installed",
                           hint="apt-get install graphviz, or give --view-op-graph a .dot path")
    result = subprocess.run([dot, f"-T{suffix[1:]}", dot_path], capture_output=True)
    if result.returncode:
        first = (result.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"])[0]
        raise OpGraphError(f"dot could not render {dot_path}: {first}")
    write_output(path, result.stdout, inputs, what="the graph")
    return [dot_path, path]


__all__ = ["op_graph", "write_op_graph", "OpGraphError"]
