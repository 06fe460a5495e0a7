"""Node by node against onnxruntime: which ONNX node does lamina compute differently?

    table = lamina.compare("resnet18.onnx", opt_level=3)      # `lamina compare resnet18.onnx`
    print(table.report())
    table.first_diverging                                      # a NodeRow, or None

`--check onnxruntime` compares the final outputs; when they differ, this finds where. The steps:

1. onnxruntime runs the model with every node's output exposed as a graph output (the usual
   way to debug an ONNX model), on the inputs lamina gets.
2. lamina imports the model, runs the -O level's passes, compiles it and runs it once keeping
   every value each kernel computes (`CompiledModel.trace`: the kernels and memory plan of a
   plain run).
3. Ops inside a fused kernel (`nn.fused`) have no value of their own in that run, so every
   group's ops are also compiled one kernel per op and run on the values the fused kernel read:
   no node is unobservable. The group's results stay the fused kernel's own.
4. Each op's location names the ONNX nodes it came from (compiler/location.py `node_names`).
   An op whose location names several nodes (a conv with its batch_norm folded in) stands for
   the last of them in the graph; the others are "folded into" it. Of the ops standing for a
   node (one node may import as several ops), the node's output is the last result with the
   output's shape; a result named after the output wins, a multi-output op gives its results
   in order.
5. One row per node output, in the graph's (topological) order: the max abs diff and the diff
   relative to the reference's max (runtime/compare.py `difference`, as `run --check`), and
   whether that is over tolerance. A node no op stands for was removed (by a pass, or folded
   at import) and is listed as such. The first row over tolerance is the first diverging node:
   every node before it agrees, so its inputs agree and its output does not.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import OpResult
from lamina.compiler.location import node_names
from lamina.compiler.opdef import ConstantLike

from .compare import ATOL, RTOL, difference, run_onnxruntime

OK, DIVERGES, FOLDED, REMOVED, UNMATCHED = "ok", "diverges", "folded", "removed", "unmatched"


@dataclass
class NodeRow:
    """One output of one ONNX node, compared.

    `status`: ok / diverges (over tolerance) / folded (into node `folded_into`, which is
    compared instead) / removed (no op computes it: a pass or the import removed or folded it) /
    unmatched (ops stand for it, but none has its shape: a layout change). `lamina`: where
    lamina's value came from."""

    index: int  # the node's position in the graph
    node: str  # its name; its first output's name when it has none
    op_type: str
    output: str  # the ONNX value this row compares
    output_index: int
    shape: list | None  # the reference's shape
    status: str
    max_abs: float | None = None
    rel: float | None = None
    folded_into: str | None = None
    lamina: str = ""
    inputs: list = field(default_factory=list)  # the node's ONNX input names
    outputs: int = 1  # how many outputs the node has

    @property
    def label(self) -> str:
        """The node's name, with `#i` for the outputs of a node with several."""
        return f"{self.node}#{self.output_index}" if self.outputs > 1 else self.node


@dataclass
class CompareTable:
    """Every node output of a model, lamina against onnxruntime, in topological order."""

    model: str
    opt_level: int
    target: str
    rtol: float
    atol: float
    rows: list
    seconds: dict = field(default_factory=dict)  # where the time went: onnxruntime, compile, ...
    initializers: frozenset = frozenset()  # the model's initializer names (inputs that are weights)

    @property
    def diverging(self) -> list:
        return [r for r in self.rows if r.status == DIVERGES]

    @property
    def first_diverging(self) -> NodeRow | None:
        """The first node over tolerance: the nodes before it agree (its inputs among them)."""
        return next(iter(self.diverging), None)

    @property
    def ok(self) -> bool:
        return not self.diverging

    def row(self, node: str, output_index: int = 0) -> NodeRow:
        return next(r for r in self.rows if r.node == node and r.output_index == output_index)

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.rows) for s in (OK, DIVERGES, FOLDED, REMOVED, UNMATCHED)}
        nodes = len({r.index for r in self.rows})
        parts = [f"{counts[OK] + counts[DIVERGES]} compared", f"{counts[DIVERGES]} over tolerance",
                 f"{counts[FOLDED]} folded into another node", f"{counts[REMOVED]} removed"]
        if counts[UNMATCHED]:
            parts.append(f"{counts[UNMATCHED]} without a value of their shape")
        return f"{nodes} nodes, {len(self.rows)} values: " + ", ".join(parts)

    def verdict(self) -> str:
        first = self.first_diverging
        if first is None:
            return "no node diverges"
        by_output = {r.output: r for r in self.rows}
        agreeing = [f"{by_output[i].label} ({by_output[i].status})" if i in by_output
                    else f"{i} ({'initializer' if i in self.initializers else 'model input'})"
                    for i in first.inputs if i]
        return (f"first diverging node: {first.label} ({first.op_type}): its inputs agree "
                f"[{', '.join(agreeing)}], its output differs by {_num(first.max_abs)} "
                f"({_num(first.rel)} of the reference's max)")

    def report(self) -> str:
        header = ["", "node", "op", "shape", "max abs diff", "rel diff", "result", "lamina's value"]
        lines = []
        for r in self.rows:
            compared = r.status in (OK, DIVERGES)
            detail = f"into {r.folded_into}" if r.status == FOLDED else r.lamina
            lines.append([">" if r.status == DIVERGES else "", r.label, r.op_type, _shape(r.shape),
                          _num(r.max_abs) if compared else "-", _num(r.rel) if compared else "-",
                          r.status.upper() if r.status == DIVERGES else r.status, detail])
        widths = [min(max(len(row[i]) for row in [header] + lines), 40) for i in range(len(header))]
        text = [f"lamina compare {self.model}: -O{self.opt_level} for {self.target} against onnxruntime; "
                f"over tolerance (>) when max abs diff > {self.atol:g} + {self.rtol:g} * max |reference|"]
        for row in [header] + lines:
            text.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        text.append(self.summary())
        text.append(self.verdict())
        if self.seconds:
            text.append("time: " + ", ".join(f"{k} {v:.2f} s" for k, v in self.seconds.items()))
        return "\n".join(text)

    __str__ = report

    def to_dict(self) -> dict:
        first = self.first_diverging
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["label"] = r.label
            d["max_abs"], d["rel"] = _json_num(r.max_abs), _json_num(r.rel)
            rows.append(d)
        return {"model": self.model, "opt_level": self.opt_level, "target": self.target,
                "rtol": self.rtol, "atol": self.atol, "ok": self.ok,
                "first_diverging": first.label if first else None, "verdict": self.verdict(),
                "summary": self.summary(),
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}, "rows": rows}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"


def _shape(shape) -> str:
    if shape is None:
        return "?"
    return "x".join(map(str, shape)) if shape else "scalar"


def _num(x) -> str:
    return "-" if x is None else f"{x:.3e}"


def _json_num(x):
    """A float for JSON: nan and inf (shapes or NaNs that differ) as strings."""
    return x if x is None or math.isfinite(x) else str(x)


# ---------------------------------------------------------------------------------------------
# compare


def compare(model, opt_level: int = 3, target: str = "llvm", inputs=None, rtol: float | None = None,
            atol: float | None = None, fill: str | None = "random", input_shapes: dict | None = None,
            threads: int | None = None, hint: str | None = None) -> CompareTable:
    """Compare the value of every node of an ONNX model (a path or a ModelProto) as lamina
    computes it at `opt_level` for `target` with onnxruntime's. `inputs`: arrays by input name
    (or a list, in order); inputs not given are generated as `fill` says (`lamina run --fill`;
    None: every input must be given). `rtol`, `atol`: those of `lamina run --check`."""
    from lamina.compiler.frontends.onnx.importer import load_onnx, read_model, sanitize
    from lamina.compiler.passes import run_pipeline
    from lamina.compiler.passes.presets import pipeline_for
    from lamina.compiler.symbols import SymbolTable

    from .inputs import function_inputs, input_names

    rtol = RTOL if rtol is None else rtol
    atol = ATOL if atol is None else atol
    seconds = {}
    start = time.perf_counter()
    proto = read_model(model)
    module = load_onnx(proto, input_shapes=input_shapes)
    main = SymbolTable(module).lookup("main")
    if isinstance(inputs, (list, tuple)):
        inputs = dict(zip(input_names(main), inputs))
    onnx_inputs = [i.name for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    given = {(sanitize(k) or k) if k in onnx_inputs else k: v for k, v in (inputs or {}).items()}
    arrays = function_inputs(main, given, fill, hint=hint or "pass inputs={name: array} or fill='random'")
    run_pipeline(module, pipeline_for(opt_level))
    seconds["import and passes"] = time.perf_counter() - start

    observed = Observed.run(module, arrays, target, threads, seconds)
    start = time.perf_counter()
    reference = onnxruntime_values(proto, dict(zip(onnx_inputs, arrays)))
    seconds["onnxruntime"] = time.perf_counter() - start
    rows = match_rows(proto, module, observed, reference, rtol, atol)
    name = os.fspath(model) if isinstance(model, (str, os.PathLike)) else proto.graph.name or "<model>"
    return CompareTable(str(name), opt_level, target, rtol, atol, rows, seconds,
                        frozenset(t.name for t in proto.graph.initializer))


def onnxruntime_values(proto, feed: dict) -> dict:
    """Every node output of the model as onnxruntime computes it (value name -> array): the model
    with each of them added to the graph's outputs (typed where the model or ONNX's shape
    inference knows the type)."""
    import onnx

    exposed = onnx.ModelProto()
    exposed.CopyFrom(proto)
    graph = exposed.graph
    names = [o for node in graph.node for o in node.output if o]
    typed = {v.name: v for v in graph.value_info}
    if any(n not in typed for n in names):
        try:
            inferred = onnx.shape_inference.infer_shapes(exposed)
            typed.update({v.name: v for v in inferred.graph.value_info})
        except Exception:  # untyped outputs are fine for onnxruntime; types only help it
            pass
    have = {o.name for o in graph.output}
    for n in names:
        if n not in have:
            graph.output.append(typed[n] if n in typed else onnx.ValueInfoProto(name=n))
            have.add(n)
    try:
        outputs = run_onnxruntime(exposed.SerializeToString(), feed)
    except LaminaError:
        raise
    except Exception as e:  # onnxruntime's own errors: the model's or onnxruntime's, not lamina's
        raise LaminaError(f"onnxruntime cannot run the model with its intermediate values exposed: "
                          f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return {o.name: np.asarray(v) for o, v in zip(graph.output, outputs)}


# ---------------------------------------------------------------------------------------------
# lamina's values


@dataclass
class Observed:
    """Every value of @main and of the ops inside its fused groups, with where each came from."""

    values: dict  # SSA value -> array
    where: dict  # id(op) -> where its results came from ("kernel relu", "constant", ...)
    model: object  # the CompiledModel

    @classmethod
    def run(cls, module, inputs: list, target, threads, seconds: dict) -> "Observed":
        from .executor import compile

        start = time.perf_counter()
        model = compile(module, target=target, threads=threads)
        seconds["compile"] = time.perf_counter() - start
        start = time.perf_counter()
        values = model.trace(*inputs)
        seconds["run"] = time.perf_counter() - start
        kernel_of = {id(op): k.name for (op, *_), k in zip(model.steps, model.kernels)}
        where = {}
        groups = []
        for op in model.function.entry:
            if op.name == "func.return":
                continue
            if op.has_trait(ConstantLike):
                where[id(op)] = "constant"
            elif id(op) in kernel_of:
                where[id(op)] = f"kernel {kernel_of[id(op)]}"
            elif all(r in model.constants for r in op.results):
                where[id(op)] = "computed at compile time"
            else:
                where[id(op)] = "free concat (its producers write into it)"
            if op.name == "nn.fused":
                groups.append(op)
        if groups:
            start = time.perf_counter()
            values.update(run_unfused(groups, values, target, threads))
            seconds["fused groups' ops alone"] = time.perf_counter() - start
            for group in groups:
                yielded = {v: i for i, v in enumerate(group.block.last_op.operands)}
                for op in group.inner_ops:
                    kept = [r for r in op.results if r in yielded]
                    for r in kept:  # the fused kernel's own result, not the op run alone
                        values[r] = values[group.results[yielded[r]]]
                    where[id(op)] = (f"fused {where[id(group)]}" if kept
                                     else f"alone, from fused {where[id(group)]}")
        return cls(values, where, model)


def run_unfused(groups: list, values: dict, target, threads) -> dict:
    """The values of the ops inside fused groups, each op its own kernel, run on the values its
    group read (`values`): one function holding every group's body, compiled and called once."""
    from lamina.dialects.builtin import ModuleOp
    from lamina.dialects.func import FuncOp, ReturnOp

    from .executor import compile

    read, constants = [], []  # the values the groups read: arguments, and constant ops to copy
    for group in groups:
        for v in group.operands:
            if isinstance(v, OpResult) and v.owner.has_trait(ConstantLike):
                if v.owner not in constants:
                    constants.append(v.owner)
            elif v not in read:
                read.append(v)
    inner = [(op, r) for group in groups for op in group.inner_ops for r in op.results]
    fn = FuncOp.create_with_body("main", [v.type for v in read], [r.type for _, r in inner])
    mapping = dict(zip(read, fn.entry.args))
    for op in constants:
        copy = op.clone()
        fn.entry.append(copy)
        mapping[op.results[0]] = copy.results[0]
    new = {}
    for group in groups:
        local = {arg: mapping[v] for arg, v in zip(group.block.args, group.operands)}
        for op in group.inner_ops:
            copy = op.clone(local)
            fn.entry.append(copy)
            new.update(zip(op.results, copy.results))
    fn.entry.append(ReturnOp(operands=[new[r] for _, r in inner]))
    module = ModuleOp.empty()
    module.block.append(fn)
    outputs = compile(module, target=target, threads=threads)(*[values[v] for v in read])
    return {r: out for (_, r), out in zip(inner, outputs)}


# ---------------------------------------------------------------------------------------------
# matching ops to nodes


def _lamina_ops(module):
    """The ops of @main in order, each fused group replaced by the ops inside it."""
    from lamina.compiler.symbols import SymbolTable

    for op in SymbolTable(module).lookup("main").entry:
        if op.name == "nn.fused":
            yield from op.inner_ops
        elif op.name != "func.return":
            yield op


def match_rows(proto, module, observed: Observed, reference: dict, rtol: float, atol: float) -> list:
    """The table's rows: each node output of the graph with lamina's value of it (step 4 and 5
    of the module's docstring)."""
    from lamina.compiler.frontends.onnx.importer import sanitize

    graph = proto.graph
    # the importer's location of each node: its name, or `<op type>_<index>` when it has none;
    # an unnamed node's first output's name is taken too
    index_of = {}
    for i, node in enumerate(graph.node):
        index_of.setdefault(node.name or f"{node.op_type}_{i}", i)
    for i, node in enumerate(graph.node):
        if not node.name and node.output and node.output[0]:
            index_of.setdefault(node.output[0], i)
    initializers = {t.name for t in graph.initializer}

    ops_of: dict = {}  # node index -> the ops that stand for it, in order
    folded_into: dict = {}  # node index -> the node it was folded into
    for op in _lamina_ops(module):
        names = node_names(op)
        if op.has_trait(ConstantLike) and names and names[0] in initializers:
            continue  # an initializer (named like a node only by chance)
        nodes = sorted({index_of[n] for n in names if n in index_of})
        if not nodes:
            continue
        ops_of.setdefault(nodes[-1], []).append(op)
        for i in nodes[:-1]:
            folded_into.setdefault(i, nodes[-1])

    def shown(i):
        node = graph.node[i]
        return node.name or next((o for o in node.output if o), f"{node.op_type}_{i}")

    values = observed.values
    rows = []
    for i, node in enumerate(graph.node):
        outputs = [(j, o) for j, o in enumerate(node.output) if o]
        ops = ops_of.get(i, [])
        taken = set()
        for j, name in outputs:
            ref = reference.get(name)
            row = NodeRow(i, shown(i), node.op_type, name, j, list(ref.shape) if ref is not None else None,
                          REMOVED, inputs=list(node.input), outputs=len(node.output))
            value = _pick(ops, j, len(node.output), sanitize(name), ref, values, taken)
            if value is not None and ref is not None:
                taken.add(value)
                d = difference(name, values[value], ref, rtol, atol)
                row.status = OK if d.ok else DIVERGES
                row.max_abs, row.rel = d.max_abs, d.max_rel
                row.lamina = observed.where.get(id(value.owner), "")
            elif i in folded_into:
                row.status, row.folded_into = FOLDED, shown(folded_into[i])
            elif ops:
                row.status = UNMATCHED
                shapes = {tuple(r.type.shape) for op in ops for r in op.results if hasattr(r.type, "shape")}
                row.lamina = "its ops' results have shape " + " or ".join("x".join(map(str, s)) for s in shapes)
            rows.append(row)
    return rows


def _pick(ops, j: int, count: int, hint: str | None, ref, values: dict, taken: set):
    """Of the results of `ops` (the ops standing for a node), the one holding output `j` of
    `count`: named after the output, else (several outputs) result `j` of an op with `count`
    results, else the last with the output's shape."""
    if ref is None:
        return None
    shape = tuple(ref.shape)
    results = [r for op in ops for r in op.results
               if r in values and r not in taken and tuple(np.shape(values[r])) == shape]
    named = [r for r in results if hint is not None and r.name_hint == hint]
    if named:
        return named[-1]
    if count > 1:
        for op in reversed(ops):
            if len(op.results) == count and op.results[j] in results:
                return op.results[j]
    return results[-1] if results else None
