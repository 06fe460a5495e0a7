"""The GPU check: lamina's GPU packages on a borrowed GPU machine, in one short run.

The GPU machine (an H100 or H200 with numpy, cuda-bindings, CuPy and PyTorch, but no TVM, no
lark, no pip registry, and at most 64 MiB carried along with the working tree) cannot compile
anything, so the work is split in two:

1. `prepare`, here, with TVM, onnx and onnxruntime: for each model of the zoo and each kernel
   check (single-op models: a conv, a depthwise conv, a matmul, a softmax, a reduction, a
   pooling), compile at -O3 for the target into a package, and again with every kernel
   scheduled by TVM's dlight rules (`--peer-schedules tvm-dlight`, the peer); run onnxruntime on
   seeded random inputs for the reference outputs; write each kernel call's name and FLOPs, and
   the ONNX graph as plain data for a PyTorch peer (the GPU side imports no onnx).
2. `run`, there, with numpy, lamina's runtime files (runtime/package_runner.py and the device
   runtime beside it, loaded by path: never lamina's package, whose __init__ imports lark) and
   PyTorch when it is importable: check every package's outputs against the reference, time
   the model, each kernel, the dlight peer and PyTorch (cuDNN), and print the tables; exit 1
   when a check fails.

The commands (out/ is git-ignored, so the prepared folder travels only when carried):

    .venv/bin/python bench/gpu_check.py prepare out/gpu_check --target cuda   # here (~70 s)
    bench/gpu_check.sh out/gpu_check                                           # there (< 5 min)

With this workplace's device tool: its `run` with command `bench/gpu_check.sh out/gpu_check $OUT`,
carry `["out/gpu_check"]` and timeout_s 420 (the script stops itself after 5 minutes); the repository's
files travel anyway (bench/ and runtime/ are all the GPU side reads). The log and a JSON of the
results come back as $OUT/gpu_check.log and $OUT/gpu_check.json; the reply's output_tail holds
the summary table, printed last. `prepare` prints the folder's size: with the working tree
(~3 MiB) it must stay under the tool's 64 MiB. The run passes when every lamina package gives
onnxruntime's outputs (rtol 1e-4, atol 1e-4 x the output's largest magnitude); a peer (dlight,
PyTorch) with wrong outputs is reported, its times left out, and does not fail it.

The whole flow runs on this machine's OpenCL device (PoCL on the CPU) with packages prepared for
`cuda-on-opencl` (the cuda target's schedules, as OpenCL) and PyTorch on the CPU:

    .venv/bin/python bench/gpu_check.py prepare /tmp/gc --target cuda-on-opencl --models mlp,glue
    .venv/bin/python bench/gpu_check.py run /tmp/gc --device opencl --runs 3 --warmup 1

What OUT holds (`index.json` lists it all, with each file's sha256):

    index.json            the target, the items (kernel checks and models) and, per stored
                          file, the parts it is put together from
    blobs/*.z             the stored files in parts, each part once, zlib-compressed; a float
                          section (a package's weights.bin, an array's data) is a part of its own,
                          byte-shuffled first (float exponents compress, mantissas do not). So
                          lamina's package and the dlight one, whose weights are the same bytes,
                          share them. `run` rebuilds each file in its --work folder and checks its
                          sha256. (ResNet-18's weights are 47 MB: two packages and PyTorch's copy,
                          stored plainly, would be 140 MB, over the 64 MiB the tool carries.)
      <item>.tar          lamina's package (runtime/package.py), for the target
      <item>.dlight.tar   the same kernels scheduled by TVM's s_tir.dlight rules
      <item>.input_<i>.npy, <item>.output_<i>.npy
                          the seeded inputs (standard normal, rounded to multiples of 1/64 so that
                          they compress) and onnxruntime's outputs
      <item>.weights.npz  the PyTorch peer's arrays that lamina's package does not hold
    <item>.kernels.json   per kernel call, in the package's call order: name, ops, kind, FLOPs,
                          ONNX nodes (runtime/flops.py `op_flops`; the calls as package.py writes them)
    <item>.graph.json     the ONNX graph as plain data for the PyTorch peer (nodes: op_type, inputs,
                          outputs, attributes), each BatchNormalization that follows a Conv folded
                          into it (as lamina's -O3, and every inference engine, runs it); each
                          initializer an array of <item>.weights.npz or, where lamina's package
                          holds the same values (a folded conv weight, a Gemm weight; in its
                          packed layout: `unpack`), that constant of the package. PyTorch then
                          runs with lamina's weights, and its output is checked against
                          onnxruntime's as lamina's is.

The default set (resnet18, mobilenetv2, mlp, glue and the six kernel checks) is ~56 MiB for
cuda; the working tree adds ~3 MiB. The rest of the zoo goes in a second folder, e.g.
`prepare out/gpu_check2 --models alexnet,shufflenet,squeezenet,transformer_block,tiny_yolo --ops none`.

Timing: every run writes the inputs, enqueues every kernel and reads the outputs back (which
waits for the device), the median of --runs after --warmup; PyTorch's run copies the inputs to
the device, runs the graph and copies the outputs back, then torch.cuda.synchronize(). Per-kernel
times: each kernel call launched k times in a row (k so a batch takes ~2 ms) and the device
finished, the median of three batches; "enqueue" is the CPU's share (a kernel whose time is
about its enqueue time is launch-bound: its GPU time is at most that). Launch overhead is the
model's time minus the sum of its kernels'. Conv GFLOP/s are against the GPU's FP32 peak (no
tensor cores: lamina's kernels are FP32 FMA code) from a table of known GPUs by name.
PyTorch runs in FP32 (TF32 off) with cudnn.benchmark on.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import math
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]   # the repository (the `lamina` package)
RUNNER = ROOT / "runtime" / "package_runner.py"
INDEX = "index.json"
KIND = "lamina-gpu-check"
FORMAT = 1
CARRY_MIB = 64              # what the device tool carries: OUT plus the working tree,
TREE_MIB = 6                # which is about this much (bench/gpu_check.py's tests check OUT's share)
DEFAULT_MODELS = ["resnet18", "mobilenetv2", "mlp", "glue"]
OPS = {  # the kernel checks: one op each, about the size it has in the zoo's models
    "conv": "Conv 3x3 64->64 (+bias) on 1x64x56x56 (a ResNet-18 layer1 conv)",
    "depthwise": "depthwise Conv 3x3 on 1x192x28x28 (MobileNetV2)",
    "matmul": "MatMul 1x256x512 by 512x512",
    "softmax": "Softmax over the last axis of 1x4x128x128 (attention scores)",
    "reduce": "ReduceMean over the last axis of 1x256x1024",
    "pool": "MaxPool 3x3/2 pad 1 on 1x64x56x56",
}
# FP32 (non-tensor) peaks in TFLOP/s, by a word of the device's name: the first match counts
FP32_PEAKS = [
    ("H100 PCIe", 51.2, "H100 PCIe"), ("H100 NVL", 60.0, "H100 NVL"), ("H100", 66.9, "H100 SXM"),
    ("H200 NVL", 60.0, "H200 NVL"), ("H200", 66.9, "H200 SXM"), ("GH200", 66.9, "GH200"),
    ("H800", 66.9, "H800 SXM"), ("A100", 19.5, "A100"), ("A800", 19.5, "A800"), ("L40S", 91.6, "L40S"),
    ("L40", 90.5, "L40"), ("L4", 30.3, "L4"), ("A10G", 31.2, "A10G"), ("A10", 31.2, "A10"),
    ("RTX 4090", 82.6, "RTX 4090"), ("RTX 3090", 35.6, "RTX 3090"), ("V100", 15.7, "V100"), ("T4", 8.1, "T4"),
]
RTOL = ATOL = 1e-4          # atol is relative to the output's largest magnitude


class CheckError(Exception):
    """A prepared folder or a device that cannot be used: printed as one `error:` line."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def render(self) -> str:
        return f"error: {self}" + (f"\nhint: {self.hint}" if self.hint else "")


# ---------------------------------------------------------------------------------------------
# the store: files as parts, each part once, compressed (numpy and the standard library only)


def _shuffled(data: bytes, width: int) -> bytes:
    """Byte i of every `width`-byte word, then byte i+1 ...: float32 exponents side by side."""
    return np.frombuffer(data, np.uint8).reshape(-1, width).T.tobytes()


def _unshuffled(data: bytes, width: int) -> bytes:
    return np.frombuffer(data, np.uint8).reshape(width, -1).T.tobytes()


class Store:
    """Writes files into OUT as parts under blobs/ (named by their sha256, so equal parts are
    stored once) and records in `files` how each file is put together again."""

    def __init__(self, out: Path):
        self.out = out
        self.files: dict[str, dict] = {}
        (out / "blobs").mkdir(parents=True, exist_ok=True)

    def add(self, name: str, data: bytes, floats: tuple[int, int] | None = None) -> None:
        """File `name` with bytes `data`; `floats`: the (start, end) of a float32 section
        (a package's weights.bin), stored as a part of its own, byte-shuffled."""
        cuts = [(0, len(data), 0)]
        if floats is not None and (floats[1] - floats[0]) % 4 == 0 and floats[1] > floats[0]:
            cuts = [(0, floats[0], 0), (floats[0], floats[1], 4), (floats[1], len(data), 0)]
        parts = []
        for start, end, width in cuts:
            if end > start:
                parts.append(self._part(data[start:end], width))
        self.files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "parts": parts}

    def add_array(self, name: str, array: np.ndarray) -> None:
        """`array` as the .npy file `name` (its data, when 4-byte floats or ints, byte-shuffled)."""
        f = io.BytesIO()
        np.save(f, array)
        data = f.getvalue()
        self.add(name, data, (len(data) - array.nbytes, len(data)) if array.dtype.itemsize == 4 else None)

    def _part(self, data: bytes, width: int) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        blob = f"blobs/{digest[:40]}.{'s4.' if width else ''}z"
        path = self.out / blob
        if not path.exists():
            path.write_bytes(zlib.compress(_shuffled(data, width) if width else data, 6))
        return {"blob": blob, "size": len(data), "shuffle": width}


def rebuild(out: Path, files: dict, name: str, work: Path) -> Path:
    """File `name` of the store, put together in `work` and checked against its sha256."""
    entry = files[name]
    h = hashlib.sha256()
    path = work / name
    with open(path, "wb") as f:
        for part in entry["parts"]:
            try:
                data = zlib.decompress((out / part["blob"]).read_bytes())
            except (OSError, zlib.error) as e:
                raise CheckError(f"{out / part['blob']}: cannot read a part of {name} ({e})",
                                 "prepare the folder again") from None
            if part["shuffle"]:
                data = _unshuffled(data, part["shuffle"])
            h.update(data)
            f.write(data)
    if h.hexdigest() != entry["sha256"]:
        raise CheckError(f"{name} rebuilt from {out} does not match its sha256 (a damaged part)",
                         "prepare the folder again")
    return path


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


# ---------------------------------------------------------------------------------------------
# prepare (here: TVM, onnx, onnxruntime)


def op_model(name: str, seed: int = 0):
    """The kernel check `name` (OPS) as an ONNX model: one node, its weights from `seed`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits, attrs = [], {}

    def weight(wname, shape, fan_in):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * math.sqrt(2 / fan_in))
                                             .astype(np.float32), wname))
        return wname

    if name == "conv":
        x, y, inputs = [1, 64, 56, 56], [1, 64, 56, 56], [weight("w", [64, 64, 3, 3], 576), weight("b", [64], 576)]
        op, attrs = "Conv", dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    elif name == "depthwise":
        x, y, inputs = [1, 192, 28, 28], [1, 192, 28, 28], [weight("w", [192, 1, 3, 3], 9)]
        op, attrs = "Conv", dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], group=192)
    elif name == "matmul":
        x, y, inputs, op = [1, 256, 512], [1, 256, 512], [weight("w", [512, 512], 512)], "MatMul"
    elif name == "softmax":
        x, y, inputs, op, attrs = [1, 4, 128, 128], [1, 4, 128, 128], [], "Softmax", dict(axis=-1)
    elif name == "reduce":
        x, y, inputs, op, attrs = [1, 256, 1024], [1, 256, 1], [], "ReduceMean", dict(axes=[-1], keepdims=1)
    elif name == "pool":
        x, y, inputs, op = [1, 64, 56, 56], [1, 64, 28, 28], [], "MaxPool"
        attrs = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    else:
        raise CheckError(f"no kernel check named {name!r}", f"the checks: {', '.join(OPS)}")
    node = helper.make_node(op, ["input", *inputs], ["output"], name=name, **attrs)
    graph = helper.make_graph([node], name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, x)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, y)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def _op_kind(ops: list[str]) -> str:
    for kind, names in [("conv", ("nn.conv2d",)), ("matmul", ("nn.matmul", "nn.gemm")),
                        ("pool", ("nn.max_pool2d", "nn.avg_pool2d", "nn.global_avg_pool", "nn.global_max_pool")),
                        ("softmax", ("nn.softmax", "nn.log_softmax")), ("norm", ("nn.layer_norm", "nn.lrn")),
                        ("reduce", ("nn.reduce_sum", "nn.reduce_mean", "nn.reduce_max"))]:
        if any(o in names for o in ops):
            return kind
    return "other"


def kernel_calls(compiled, plan: dict) -> list[dict]:
    """Each call of the package's plan (package.py `build_plan`: every step but an empty
    kernel's, in order) with its kernel's name, ops, kind, FLOPs and ONNX nodes."""
    from lamina.runtime.benchmark import kernel_label, kernel_nodes
    from lamina.runtime.device_executor import DeviceKernel
    from lamina.runtime.flops import op_flops

    calls = []
    for (op, kernel, shapes, _), built in zip(compiled.steps, compiled.kernels):
        if not isinstance(kernel, DeviceKernel) and all(0 in s for s in shapes):
            continue  # an empty kernel: the package makes no call
        ops = [o.name for o in op.walk() if o is not op and o.name != "nn.yield"] if op.regions else [op.name]
        calls.append({"index": len(calls), "name": built.name, "label": kernel_label(op), "op": op.name,
                      "ops": ops, "kind": _op_kind(ops), "flops": op_flops(op), "nodes": kernel_nodes(op)})
    if [c["op"] for c in calls] != [c["op"] for c in plan["calls"]]:
        raise CheckError(f"the package's {len(plan['calls'])} calls are not its compiled model's {len(calls)} "
                         "kernel steps (package.py's call order changed?)", "update kernel_calls in bench/gpu_check.py")
    return calls


def _attribute(attr, arrays: dict):
    """An ONNX attribute as JSON data; a tensor into `arrays` as {"array": key}."""
    from onnx import AttributeProto, helper, numpy_helper

    if attr.type == AttributeProto.TENSOR:
        key = f"a{len(arrays)}"
        arrays[key] = numpy_helper.to_array(attr.t)
        return {"array": key}
    if attr.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS, AttributeProto.TENSORS,
                     AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS, AttributeProto.TYPE_PROTO):
        raise CheckError(f"attribute {attr.name} is of a kind the PyTorch peer does not read")
    value = helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [v.decode() if isinstance(v, bytes) else v for v in value]
    return value


def fold_batch_norms(nodes: list[dict], inits: dict, outputs: set) -> int:
    """Conv -> BatchNormalization (the conv's only reader, its parameters initializers) becomes
    one Conv with weight w * s and bias (b - mean) * s + beta, s = scale / sqrt(var + eps),
    computed in float64; returns how many were folded."""
    readers: dict = {}
    for n in nodes:
        for name in n["inputs"]:
            readers[name] = readers.get(name, 0) + 1
    producer = {o: n for n in nodes for o in n["outputs"]}
    folded = []
    for bn in nodes:
        if bn["op_type"] != "BatchNormalization" or len(bn["outputs"]) != 1:
            continue
        conv = producer.get(bn["inputs"][0])
        params = bn["inputs"][1:5]
        if (conv is None or conv["op_type"] != "Conv" or readers.get(conv["outputs"][0]) != 1
                or conv["outputs"][0] in outputs or not all(p in inits for p in params)
                or not all(i in inits for i in conv["inputs"][1:] if i)):
            continue
        scale, beta, mean, var = (inits[p].astype(np.float64) for p in params)
        s = scale / np.sqrt(var + float(bn["attributes"].get("epsilon", 1e-5)))
        w = inits[conv["inputs"][1]].astype(np.float64)
        b = inits[conv["inputs"][2]].astype(np.float64) if len(conv["inputs"]) > 2 and conv["inputs"][2] \
            else np.zeros(w.shape[0])
        dtype = inits[conv["inputs"][1]].dtype
        inits[f"{bn['name']}.folded_weight"] = (w * s.reshape(-1, *[1] * (w.ndim - 1))).astype(dtype)
        inits[f"{bn['name']}.folded_bias"] = ((b - mean) * s + beta).astype(dtype)
        conv["inputs"] = [conv["inputs"][0], f"{bn['name']}.folded_weight", f"{bn['name']}.folded_bias"]
        conv["outputs"] = list(bn["outputs"])
        folded.append(bn)
    for bn in folded:
        nodes.remove(bn)
    return len(folded)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if np.array_equal(a, b):
        return True
    if a.dtype.kind != "f":
        return False
    scale = float(np.abs(a).max(initial=0.0))
    return bool(np.allclose(a, b, rtol=1e-5, atol=1e-6 * scale))


def unpack(c: np.ndarray, shape: list[int], layout: dict) -> np.ndarray:
    """A package constant in the layout an ONNX initializer has: {"transposed": true} (a 2-D
    matrix stored transposed) or {"blocked": j, "block": b}, axis j of `shape` split into
    (j_outer, b) with j_outer first and b last (a conv weight O I H W stored as O/b I H W b,
    a matmul weight K N as N/b K b: lamina's GPU packings); {} for the same layout."""
    if layout.get("transposed"):
        return c.reshape(shape[::-1]).T
    if "blocked" in layout:
        j = layout["blocked"]
        u = np.moveaxis(c, -1, 1)  # (outer, b, the other axes...)
        u = u.reshape([shape[j]] + [d for i, d in enumerate(shape) if i != j])
        return np.moveaxis(u, 0, j)
    return c.reshape(shape)


def _layouts(a: np.ndarray, c: np.ndarray) -> list[dict]:
    """The layouts (`unpack`) in which constant `c` could hold array `a`."""
    layouts = [{}] + ([{"transposed": True}] if a.ndim == 2 else [])
    if c.ndim == a.ndim + 1:
        b = c.shape[-1]
        for j in range(a.ndim):
            rest = [d for i, d in enumerate(a.shape) if i != j]
            if a.shape[j] % b == 0 and list(c.shape) == [a.shape[j] // b, *rest, b]:
                layouts.append({"blocked": j, "block": b})
    return layouts


def match_constants(arrays: dict, constants: list[np.ndarray]) -> dict:
    """name -> (constant index, layout) for each array (of 64 elements or more) that a constant
    of the package holds: the same values, in the same order or in a layout `unpack` reads."""
    by_size: dict = {}
    for k, c in enumerate(constants):
        by_size.setdefault((c.dtype.str, c.size), []).append(k)
    found = {}
    for name, a in arrays.items():
        if a.size < 64:
            continue
        for k in by_size.get((a.dtype.str, a.size), []):
            layout = next((lay for lay in _layouts(a, constants[k])
                           if _close(a, unpack(constants[k], list(a.shape), lay))), None)
            if layout is not None:
                found[name] = (k, layout)
                break
    return found


def package_constants(path: Path) -> list[np.ndarray]:
    """The constants of a package (its weights.bin, by its plan), read with tarfile."""
    with tarfile.open(path) as tar:
        plan = json.loads(tar.extractfile("plan.json").read())
        weights = tar.extractfile("weights.bin").read()
    return [np.frombuffer(weights, np.dtype(c["dtype"]), count=int(np.prod(c["shape"], dtype=np.int64)),
                          offset=c["offset"]).reshape(c["shape"]) for c in plan["constants"]]


def torch_graph(model, constants: list[np.ndarray]) -> tuple[dict, dict]:
    """(graph.json's data, weights.npz's arrays) of an ONNX model for the PyTorch peer: its
    nodes as plain data, BatchNormalizations folded, each initializer an array or a constant
    of lamina's package (module docstring)."""
    from onnx import numpy_helper

    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    arrays: dict = {}
    nodes = [{"op_type": n.op_type, "name": n.name or f"node{i}", "inputs": list(n.input),
              "outputs": list(n.output), "attributes": {a.name: _attribute(a, arrays) for a in n.attribute}}
             for i, n in enumerate(g.node)]
    for n in nodes:
        if n["op_type"] not in TORCH_OPS:
            raise CheckError(f"the PyTorch peer has no {n['op_type']} (node {n['name']})",
                             "add it to TORCH_OPS in bench/gpu_check.py")
    outputs = [o.name for o in g.output]
    folded = fold_batch_norms(nodes, inits, set(outputs))
    used = {i for n in nodes for i in n["inputs"] if i in inits}
    needed = {name: inits[name] for name in sorted(used)}
    found = match_constants(needed, constants)
    values = {}
    for name, a in needed.items():
        if name in found:
            k, layout = found[name]
            values[name] = {"constant": k, "layout": layout, "shape": list(a.shape), "dtype": a.dtype.name}
        else:
            key = f"a{len(arrays)}"
            arrays[key] = a
            values[name] = {"array": key}
    initializers = {t.name for t in g.initializer}
    graph = {"inputs": [i.name for i in g.input if i.name not in initializers], "outputs": outputs,
             "values": values, "nodes": nodes, "batch_norms_folded": folded,
             "from_package": sum(int(a.nbytes) for name, a in needed.items() if name in found)}
    return graph, arrays


def quantized(x: np.ndarray) -> np.ndarray:
    """A float input rounded to a multiple of 1/64: any values do for a check, and these
    compress (their low mantissa bits are zero) where standard normal floats do not."""
    return (np.round(x * 64) / 64).astype(x.dtype) if x.dtype.kind == "f" else x


def _npz_bytes(arrays: dict) -> bytes:
    f = io.BytesIO()
    np.savez(f, **arrays)
    return f.getvalue()


def _weights_span(data: bytes) -> tuple[int, int]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        info = tar.getmember("weights.bin")
    return info.offset_data, info.offset_data + info.size


def _clear(out: Path) -> None:
    """OUT, empty: a folder a previous prepare wrote is emptied; any other non-empty one refused."""
    if out.exists() and any(out.iterdir()):
        try:
            previous = json.loads((out / INDEX).read_text()).get("kind")
        except (OSError, ValueError):
            previous = None
        if previous != KIND:
            raise CheckError(f"{out} is not empty and holds no {INDEX} of a previous prepare",
                             "give a new folder, or an empty one")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def prepare_item(name: str, kind: str, onnx_path: Path, target: str, seed: int, peer: bool, work: Path,
                 out: Path, store: Store, say) -> dict:
    """Compile one model (lamina and the dlight peer), its reference, kernels and PyTorch graph."""
    import onnx

    from lamina.compiler.frontends.onnx import load_onnx
    from lamina.compiler.passes import run_pipeline
    from lamina.compiler.passes.presets import pipeline_for
    from lamina.compiler.printer import print_ir
    from lamina.runtime.benchmark import onnxruntime_session, random_inputs
    from lamina.runtime.executor import compile as compile_model
    from lamina.runtime.package import inspect_package, schedule_texts, write_package

    start, size = time.perf_counter(), folder_bytes(out)
    model = onnx.load(str(onnx_path))
    feed = {k: quantized(v) for k, v in random_inputs(onnx_path, seed).items()}
    output_names = [o.name for o in model.graph.output]
    reference = onnxruntime_session(onnx_path, 2).run(output_names, feed)
    module = load_onnx(str(onnx_path), input_shapes={n: a.shape for n, a in feed.items()})
    run_pipeline(module, pipeline_for(3, ""))
    ir_text = print_ir(module)
    item = {"name": name, "kind": kind, "what": OPS.get(name, f"zoo model {name}"),
            "inputs": list(feed), "outputs": output_names, "packages": {}}
    for side, peer_schedules in [("lamina", None), ("dlight", "tvm-dlight")][:2 if peer else 1]:
        compiled = compile_model(module, target=target, peer_schedules=peer_schedules)
        file = f"{name}.tar" if side == "lamina" else f"{name}.dlight.tar"
        write_package(compiled, work / file, ir_text=ir_text, schedules=schedule_texts(compiled),
                      output_names=output_names)
        data = (work / file).read_bytes()
        store.add(file, data, _weights_span(data))
        item["packages"][side] = file
        manifest, plan = inspect_package(work / file)
        if side == "lamina":
            item["language"] = manifest["target"].get("device")
            calls = kernel_calls(compiled, plan)
            item["kernels"] = f"{name}.kernels.json"
            (out / item["kernels"]).write_text(json.dumps({"name": name, "target": target, "calls": calls}, indent=1))
        elif [c["op"] for c in plan["calls"]] != [c["op"] for c in calls]:
            item["dlight_calls_differ"] = True  # per-kernel ratios are then left out
    item["ref"] = {"inputs": [f"{name}.input_{i}.npy" for i in range(len(feed))],
                   "outputs": [f"{name}.output_{i}.npy" for i in range(len(reference))]}
    for file, array in zip(item["ref"]["inputs"] + item["ref"]["outputs"], [*feed.values(), *reference]):
        store.add_array(file, np.asarray(array))
    try:
        graph, arrays = torch_graph(model, package_constants(work / item["packages"]["lamina"]))
    except CheckError as e:  # no PyTorch peer for this model; lamina's check goes on
        item["graph"], item["torch_note"], graph, arrays = None, str(e), {"from_package": 0}, {}
        say(f"  {name}: no PyTorch peer: {e}")
    else:
        item["graph"], item["weights"] = f"{name}.graph.json", f"{name}.weights.npz"
        (out / item["graph"]).write_text(json.dumps(graph))
        store.add(item["weights"], _npz_bytes(arrays))
    say(f"  {name}: {len(calls)} kernels; {_mib(folder_bytes(out) - size)} more in {out.name} (packages "
        f"{_mib(sum(store.files[f]['size'] for f in item['packages'].values()))} unpacked; PyTorch's weights "
        f"{_mib(graph['from_package'])} read from lamina's package, {_mib(sum(a.nbytes for a in arrays.values()))} "
        f"their own) in {time.perf_counter() - start:.1f} s")
    return item


def prepare(out: Path, models: list[str], ops: list[str], target: str, seed: int = 0, peer: bool = True,
            say=print) -> int:
    """Write OUT (module docstring) for `models` (zoo names or .onnx paths) and the kernel
    checks `ops`; returns OUT's size in bytes."""
    import onnx

    import lamina
    from lamina.lowering import targets
    from lamina.runtime.benchmark import model_name, resolve_model
    from lamina.runtime.package_runner import installed_tvm_version

    spec = targets.get(target)
    if getattr(spec, "family", None) != "gpu":
        raise CheckError(f"target {target!r} is not a GPU target", "use --target cuda (or cuda-on-opencl, opencl)")
    _clear(out)
    store = Store(out)
    items = []
    say(f"prepare {out} for {target}: {len(ops)} kernel checks, {len(models)} models")
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        for op in ops:
            path = work / f"{op}.onnx"
            onnx.save(op_model(op, seed), str(path))
            items.append(prepare_item(op, "op", path, target, seed, peer, work, out, store, say))
        for spec_ in models:
            items.append(prepare_item(model_name(spec_), "model", resolve_model(spec_), target, seed, peer, work,
                                      out, store, say))
    index = {"kind": KIND, "format": FORMAT, "target": target, "seed": seed,
             "language": items[0]["language"] if items else None,
             "lamina_version": getattr(lamina, "__version__", None), "tvm_version": installed_tvm_version(),
             "items": items, "files": store.files}
    (out / INDEX).write_text(json.dumps(index, indent=1))
    size = folder_bytes(out)
    unpacked = sum(f["size"] for f in store.files.values()) + sum(
        (out / i[k]).stat().st_size for i in items for k in ("kernels", "graph") if i.get(k))
    fits = size <= (CARRY_MIB - TREE_MIB) * 2**20
    say(f"{out}: {_mib(size)} ({_mib(unpacked)} unpacked); with the working tree (about {TREE_MIB} MiB) it "
        + (f"fits the device tool's {CARRY_MIB} MiB" if fits else
           f"does NOT fit the device tool's {CARRY_MIB} MiB: prepare fewer --models, in two folders"))
    return size


# ---------------------------------------------------------------------------------------------
# run (the GPU machine: numpy, lamina's runtime files, optionally torch)


def load_runner():
    """runtime/package_runner.py loaded by path (it loads the device runtime beside it the same
    way): lamina's package __init__, which imports lark, never runs."""
    name = "lamina_package_runner"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, RUNNER)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def open_device(device: str) -> str:
    """The device's name, opened with lamina's runtime (runtime/cuda.py or opencl.py, loaded by
    path under the name the package runner loads it by, so the process holds one copy)."""
    name = f"_lamina_{device}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "runtime" / f"{device}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    runtime = sys.modules[name]
    reason = runtime.missing_reason()
    if reason is not None:
        raise CheckError(f"--device {device}: {reason}")
    return (runtime.CudaDevice if device == "cuda" else runtime.OpenCLDevice).get().name


def fp32_peak(device_name: str) -> tuple[float | None, str]:
    """(GFLOP/s, which GPU of the table) for a device name; (None, "unknown") off the table."""
    for word, tflops, label in FP32_PEAKS:
        if word.lower() in device_name.lower():
            return tflops * 1000, label
    return None, "unknown"


def compare(outputs, reference, rtol: float = RTOL, atol: float = ATOL) -> dict:
    """Max abs and relative (to the output's largest magnitude) difference, and whether every
    element is within atol * max|ref| + rtol * |ref|."""
    ok, worst, rel = True, 0.0, 0.0
    if len(outputs) != len(reference):
        return {"ok": False, "max_abs": math.inf, "rel": math.inf, "why": "output count"}
    for ours, ref in zip(outputs, reference):
        ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
        if ours.shape != ref.shape:
            return {"ok": False, "max_abs": math.inf, "rel": math.inf, "why": f"shape {list(ours.shape)}"}
        scale = max(float(np.abs(ref).max(initial=0.0)), 1e-30)
        diff = np.abs(ours - ref)
        if not np.isfinite(ours).all() and np.isfinite(ref).all():
            return {"ok": False, "max_abs": math.inf, "rel": math.inf, "why": "NaN or inf"}
        ok = ok and bool((diff <= atol * scale + rtol * np.abs(ref)).all())
        d = float(diff.max(initial=0.0))
        worst, rel = max(worst, d), max(rel, d / scale)
    return {"ok": ok, "max_abs": worst, "rel": rel}


def median_time(fn, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def kernel_times(model, batches: int = 3, batch_seconds: float = 0.002, most: int = 200):
    """(seconds, enqueue seconds) per kernel call of a loaded GPU package, in call order; None
    when the PackagedModel does not expose its calls (`_calls`: (launcher, buffers), `_device`)."""
    calls, device = getattr(model, "_calls", None), getattr(model, "_device", None)
    if calls is None or device is None:
        return None
    out = []
    for launcher, buffers in calls:
        launcher.launch(buffers)
        device.finish()
        start = time.perf_counter()
        launcher.launch(buffers)
        device.finish()
        k = max(1, min(most, int(batch_seconds / max(time.perf_counter() - start, 1e-7))))
        per, enqueue = [], []
        for _ in range(batches):
            t0 = time.perf_counter()
            for _ in range(k):
                launcher.launch(buffers)
            t1 = time.perf_counter()
            device.finish()
            t2 = time.perf_counter()
            per.append((t2 - t0) / k)
            enqueue.append((t1 - t0) / k)
        out.append((statistics.median(per), statistics.median(enqueue)))
    return out


class Run:
    """One `run`: the folder, the device, PyTorch, and the results per item."""

    def __init__(self, out: Path, device: str, runs: int, warmup: int, work: Path, torch_mode: str,
                 budget: float, rtol: float, atol: float, say):
        self.out, self.device, self.runs, self.warmup, self.work = out, device, runs, warmup, work
        self.budget, self.rtol, self.atol, self.say = budget, rtol, atol, say
        self.start = time.perf_counter()
        try:
            self.index = json.loads((out / INDEX).read_text())
        except (OSError, ValueError) as e:
            raise CheckError(f"{out / INDEX}: cannot read it ({e})",
                             "run `python bench/gpu_check.py prepare OUT` on a machine with TVM first") from None
        if self.index.get("kind") != KIND or self.index.get("format") != FORMAT:
            raise CheckError(f"{out / INDEX} is not a gpu_check folder of format {FORMAT}", "prepare it again")
        language = self.index.get("language")  # the kernels' language names the device that runs them
        if language != device:
            raise CheckError(f"{out} was prepared for target {self.index.get('target')} ({language} kernels); "
                             f"--device {device} cannot run them", f"run it with --device {language}, or prepare "
                             f"with --target {'cuda' if device == 'cuda' else 'cuda-on-opencl'}")
        self.runner = load_runner()
        self.header(open_device(device))
        self.torch = self._torch(torch_mode)
        self.say_torch()
        self.results: list[dict] = []

    def _torch(self, mode: str):
        if mode == "off":
            return None
        try:
            import torch
        except ImportError as e:
            if mode == "on":
                raise CheckError(f"--torch on, but PyTorch does not import ({e})") from None
            return None
        if self.device == "cuda" and not torch.cuda.is_available():
            if mode == "on":
                raise CheckError("--torch on, but PyTorch sees no CUDA device")
            return None
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        return torch

    def over_budget(self) -> bool:
        return time.perf_counter() - self.start > self.budget

    def header(self, device_name: str) -> None:
        self.device_name = device_name
        self.peak, peak_of = fp32_peak(device_name)
        peak = f"{self.peak / 1000:.1f} TFLOP/s ({peak_of})" if self.peak else "unknown (not in the table)"
        self.say(f"gpu_check run: {self.out} (prepared for {self.index['target']} by lamina "
                 f"{self.index.get('lamina_version')}, TVM {self.index.get('tvm_version')})")
        self.say(f"device: {device_name}; FP32 peak {peak}")

    def say_torch(self) -> None:
        if self.torch is not None:
            t = self.torch
            if self.device == "cuda":
                self.say(f"PyTorch {t.__version__} on {t.cuda.get_device_name()} (cuDNN {t.backends.cudnn.version()}; "
                         "FP32: TF32 off; cudnn.benchmark on)")
            else:
                self.say(f"PyTorch {t.__version__} on the CPU, {t.get_num_threads()} threads")
        else:
            self.say("PyTorch: not used (not importable, or --torch off)")
        self.say(f"timing: median of {self.runs} runs after {self.warmup} warm-up; a run writes the inputs, "
                 "runs every kernel and reads the outputs back")

    def item(self, item: dict) -> dict:
        """Check and time one item; its results (also kept in self.results)."""
        name = item["name"]
        result = {"name": name, "kind": item["kind"], "what": item["what"], "checks": {}, "errors": []}
        self.results.append(result)
        inputs, reference = ([np.load(rebuild(self.out, self.index["files"], f, self.work)) for f in item["ref"][k]]
                             for k in ("inputs", "outputs"))
        calls = json.loads((self.out / item["kernels"]).read_text())["calls"]
        timed = not self.over_budget()
        for side, file in item["packages"].items():
            try:
                path = rebuild(self.out, self.index["files"], file, self.work)
                model = self.runner.load_package(path)
                result["checks"][side] = compare(model(*inputs), reference, self.rtol, self.atol)
                if timed:
                    result[f"{side}_s"] = median_time(lambda: model(*inputs), self.runs, self.warmup)
                    result[f"{side}_kernels"] = kernel_times(model)
            except Exception as e:  # a device or package error: this side fails, the rest goes on
                result["errors"].append(f"{side}: {_first_line(e)}")
                result["checks"][side] = {"ok": False, "max_abs": math.inf, "rel": math.inf, "why": _first_line(e)}
        if self.torch is not None and not item.get("graph"):
            result["errors"].append(f"torch: no PyTorch peer ({item.get('torch_note')})")
        elif self.torch is not None:
            try:
                self._torch_side(item, inputs, reference, result, timed)
            except Exception as e:
                result["errors"].append(f"torch: {_first_line(e)}")
                result["checks"]["torch"] = {"ok": False, "max_abs": math.inf, "rel": math.inf, "why": _first_line(e)}
        if not timed:
            result["errors"].append(f"not timed: over the --budget of {self.budget:.0f} s")
        result["calls"] = calls
        result["dlight_calls_differ"] = bool(item.get("dlight_calls_differ"))
        self._print_item(result)
        return result

    def _torch_side(self, item: dict, inputs, reference, result: dict, timed: bool) -> None:
        torch = self.torch
        graph = json.loads((self.out / item["graph"]).read_text())
        weights = np.load(rebuild(self.out, self.index["files"], item["weights"], self.work))
        constants = None
        if any("constant" in v for v in graph["values"].values()):
            constants = self.runner.PackageFile(self.work / item["packages"]["lamina"])
        device = "cuda" if self.device == "cuda" else "cpu"
        arrays = {}
        for name, v in graph["values"].items():
            if "array" in v:
                arrays[name] = weights[v["array"]]
            else:
                c = constants.plan["constants"][v["constant"]]
                flat = np.array(constants.weights[c["offset"]:c["offset"] + c["nbytes"]]).view(c["dtype"])
                arrays[name] = np.ascontiguousarray(unpack(flat.reshape(c["shape"]), v["shape"], v["layout"]))
        if constants is not None:
            constants.close()  # (its weights mapping stays while the arrays are read)
        net = TorchGraph(graph, arrays, {k: weights[k] for k in weights.files}, torch, device, inputs)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

        def call():
            with torch.inference_mode():
                outs = net(*[torch.from_numpy(a).to(device) for a in inputs])
                outs = [o.cpu().numpy() for o in outs]
            sync()
            return outs

        result["checks"]["torch"] = compare(call(), reference, self.rtol, self.atol)
        if timed:
            result["torch_s"] = median_time(call, self.runs, self.warmup)

    # -- printing

    def _print_item(self, r: dict) -> None:
        self.say(f"\n== {r['name']}: {r['what']}")
        for side, c in r["checks"].items():
            verdict = "ok" if c["ok"] else f"FAIL{' (' + c['why'] + ')' if c.get('why') else ''}"
            self.say(f"  check {side:<7} max|diff| {c['max_abs']:.3g}  relative {c['rel']:.3g}  {verdict}")
        for e in r["errors"]:
            self.say(f"  note: {e}")
        times = [f"{side} {r[side + '_s'] * 1e3:.3f} ms" for side in ("lamina", "dlight", "torch") if side + "_s" in r]
        if times:
            self.say("  model: " + ", ".join(times))
        lamina = r.get("lamina_kernels")
        if lamina:
            total = sum(t for t, _ in lamina)
            r["kernel_sum_s"] = total
            if "lamina_s" in r:
                r["overhead_s"] = r["lamina_s"] - total
                self.say(f"  kernels: {len(lamina)} calls, {total * 1e3:.3f} ms together; launch overhead (model "
                         f"minus kernels, copies in and out included) {r['overhead_s'] * 1e3:.3f} ms")
            self.say(kernel_table(r, self.peak))


def kernel_table(r: dict, peak: float | None) -> str:
    """Per kernel: lamina's time, its GFLOP/s and share of the FP32 peak, dlight's time, the
    ratio, and the CPU's enqueue time per launch."""
    lamina, dlight = r.get("lamina_kernels") or [], r.get("dlight_kernels") or []
    if r.get("dlight_calls_differ") or len(dlight) != len(lamina):
        dlight = []
    rows = [["#", "kernel", "kind", "MFLOP", "lamina us", "GFLOP/s", "%peak", "dlight us", "l/d", "enqueue us"]]
    for i, (call, (t, enq)) in enumerate(zip(r["calls"], lamina)):
        flops = call.get("flops")
        gflops = flops / t / 1e9 if flops and t > 0 else None
        d = dlight[i][0] if dlight else None
        rows.append([str(i), _short(call["name"], 44), call["kind"], _num(flops and flops / 1e6, ".3g"),
                     f"{t * 1e6:.1f}", _num(gflops, ".1f"), _num(gflops and peak and 100 * gflops / peak, ".1f"),
                     _num(d and d * 1e6, ".1f"), _num(d and t / d, ".2f"), f"{enq * 1e6:.1f}"])
    return render(rows, indent="  ", left=3)


def summary_table(results: list[dict], peak: float | None) -> str:
    rows = [["item", "check", "lamina ms", "dlight ms", "torch ms", "lamina/dlight", "lamina/torch", "kernels",
             "overhead ms", "best conv %peak"]]
    for r in results:
        wrong = [side for side, c in r["checks"].items() if side != "lamina" and not c["ok"]]
        check = ("ok" if lamina_passed(r) else "FAIL") + (f" ({','.join(wrong)} wrong)" if wrong else "")
        best = None
        for call, (t, _) in zip(r["calls"], r.get("lamina_kernels") or []):
            if call["kind"] == "conv" and call.get("flops") and peak:
                best = max(best or 0, 100 * call["flops"] / t / 1e9 / peak)
        # a peer's time next to a wrong result means nothing: left out
        ms = {side: r.get(f"{side}_s") if side not in wrong else None for side in ("lamina", "dlight", "torch")}
        rows.append([r["name"], check, _num(ms["lamina"] and ms["lamina"] * 1e3, ".3f"),
                     _num(ms["dlight"] and ms["dlight"] * 1e3, ".3f"), _num(ms["torch"] and ms["torch"] * 1e3, ".3f"),
                     _num(ms["lamina"] and ms["dlight"] and ms["lamina"] / ms["dlight"], ".2f"),
                     _num(ms["lamina"] and ms["torch"] and ms["lamina"] / ms["torch"], ".2f"),
                     str(len(r["calls"])), _num(r.get("overhead_s") and r["overhead_s"] * 1e3, ".3f"),
                     _num(best, ".1f")])
    return render(rows, left=2)


def lamina_passed(r: dict) -> bool:
    """Whether lamina's package gave the reference's outputs: what passes or fails the run (a
    peer that gives wrong outputs is reported, not failed: its bug is not lamina's)."""
    return bool(r["checks"].get("lamina", {}).get("ok"))


def _num(v, fmt: str) -> str:
    return "-" if v is None or v is False else format(v, fmt)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def render(rows: list[list[str]], indent: str = "", left: int = 1) -> str:
    """Columns two spaces apart: the first `left` left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append(indent + "  ".join(cells).rstrip())
    return "\n".join(lines)


def _first_line(e: BaseException) -> str:
    text = (getattr(e, "message", None) or str(e)).strip().splitlines()
    return text[0] if text else type(e).__name__


def run(out: Path, device: str = "cuda", runs: int | None = None, warmup: int | None = None,
        work: Path | None = None, torch_mode: str = "auto", only: list[str] | None = None,
        budget: float = 240.0, json_path: Path | None = None, rtol: float = RTOL, atol: float = ATOL,
        say=print) -> int:
    """Check and time every item of OUT on `device`; 0 when every check passed, 1 otherwise."""
    runs = runs if runs is not None else (50 if device == "cuda" else 5)
    warmup = warmup if warmup is not None else (10 if device == "cuda" else 1)
    keep = work is not None
    work = Path(work) if keep else Path(tempfile.mkdtemp(prefix="gpu-check-run-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        check = Run(out, device, runs, warmup, work, torch_mode, budget, rtol, atol, say)
        items = [i for i in check.index["items"] if not only or i["name"] in only]
        if only and len(items) != len(set(only)):
            missing = sorted(set(only) - {i["name"] for i in check.index["items"]})
            raise CheckError(f"--only names {', '.join(missing)}, which {out} does not hold")
        for item in items:
            check.item(item)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    failed = [r["name"] for r in check.results if not lamina_passed(r)]
    wrong = [f"{r['name']} ({side})" for r in check.results for side, c in r["checks"].items()
             if side != "lamina" and not c["ok"]]
    elapsed = time.perf_counter() - check.start
    if json_path is not None:
        Path(json_path).write_text(json.dumps({"device": check.device_name, "peak_gflops": check.peak, "runs": runs,
                                               "warmup": warmup, "results": check.results},
                                              indent=1, default=_json_default))
    say(f"\n== summary: {len(check.results)} items on {check.device_name}, {elapsed:.1f} s")
    say(summary_table(check.results, check.peak))
    if wrong:
        say(f"peers with wrong outputs (reported, not failed): {', '.join(wrong)}")
    if failed:
        say(f"lamina's outputs are wrong for: {', '.join(failed)}")
    say(f"{'FAIL' if failed else 'PASS'}: {len(check.results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def _json_default(v):
    return None if isinstance(v, float) and not math.isfinite(v) else str(v)


# ---------------------------------------------------------------------------------------------
# the PyTorch peer: graph.json's nodes as torch.nn.functional calls


class ConverterError(CheckError):
    """A node the PyTorch peer cannot run."""


def _ints(v) -> list[int]:
    return [int(x) for x in np.asarray(v).reshape(-1)]


class TorchGraph:
    """graph.json run with PyTorch on `device`. Built with example inputs: every node whose
    inputs are all known then (initializers, Constants, and Shape: the shapes are static) runs
    once, at build; its value is kept (ints on the CPU, where shapes and axes are read, floats on
    the device). A call runs the rest, in order."""

    def __init__(self, graph: dict, values: dict, attribute_arrays: dict, torch, device: str, example_inputs):
        self.torch, self.F, self.device = torch, torch.nn.functional, device
        self.graph = graph
        self.arrays = attribute_arrays
        self.known: dict = {}  # name -> numpy value (everything computed at build)
        self.tensors: dict = {}  # name -> its tensor where a call reads it
        for name, a in values.items():
            self._keep(name, torch.from_numpy(np.array(a)))  # (np.ascontiguousarray makes a 0-d array 1-d)
        env = dict(self.tensors)
        env.update({n: torch.from_numpy(np.asarray(a)).to(device) for n, a in zip(graph["inputs"], example_inputs)})
        self.steps = []
        with torch.inference_mode():
            for node in graph["nodes"]:
                fn = TORCH_OPS.get(node["op_type"])
                if fn is None:
                    raise ConverterError(f"the PyTorch peer has no {node['op_type']} (node {node['name']})")
                inputs = [env.get(n) if n else None for n in node["inputs"]]
                outs = fn(self, node, *inputs)
                static = node["op_type"] == "Shape" or all(not n or n in self.known for n in node["inputs"])
                if static:
                    for name, value in zip(node["outputs"], outs):
                        env[name] = self._keep(name, value)
                else:
                    self.steps.append((fn, node))
                    env.update(zip(node["outputs"], outs))
        self.needed = {n: self.tensors[n] for _, node in self.steps for n in node["inputs"] if n in self.tensors}

    def _keep(self, name: str, value):
        value = value.detach()
        self.known[name] = value.cpu().numpy()
        self.tensors[name] = value.to(self.device) if value.is_floating_point() else value.cpu()
        return self.tensors[name]

    def static(self, name: str) -> np.ndarray:
        """A value known at build (a shape, axes, scales): numpy, on the CPU."""
        if name not in self.known:
            raise ConverterError(f"{name} must be known before the graph runs (a shape, axes or scales)")
        return self.known[name]

    def __call__(self, *inputs):
        env = dict(self.needed)
        env.update(zip(self.graph["inputs"], inputs))
        for fn, node in self.steps:
            env.update(zip(node["outputs"], fn(self, node, *[env.get(n) if n else None for n in node["inputs"]])))
        return [env[n] for n in self.graph["outputs"]]


def _attr(node: dict, name: str, default=None):
    return node["attributes"].get(name, default)


def _pad_spec(pads: list[int], nd: int) -> tuple[list[int], list[int] | None]:
    """ONNX pads (begins then ends) as a symmetric padding, or None and F.pad's list."""
    begin, end = pads[:nd], pads[nd:]
    if begin == end:
        return begin, None
    spec = []
    for i in reversed(range(nd)):
        spec += [begin[i], end[i]]
    return [0] * nd, spec


def _conv(g, node, x, w, b=None):
    nd = w.dim() - 2
    if _attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise ConverterError(f"Conv {node['name']}: auto_pad {_attr(node, 'auto_pad')}")
    padding, spec = _pad_spec(_attr(node, "pads", [0] * 2 * nd), nd)
    if spec:
        x = g.F.pad(x, spec)
    conv = {1: g.F.conv1d, 2: g.F.conv2d, 3: g.F.conv3d}[nd]
    return [conv(x, w, b, stride=_attr(node, "strides", [1] * nd), padding=padding,
                 dilation=_attr(node, "dilations", [1] * nd), groups=_attr(node, "group", 1))]


def _pool(g, node, x, kind: str):
    k = _attr(node, "kernel_shape")
    nd = len(k)
    padding, spec = _pad_spec(_attr(node, "pads", [0] * 2 * nd), nd)
    strides, ceil = _attr(node, "strides", [1] * nd), bool(_attr(node, "ceil_mode", 0))
    if kind == "max":
        if spec or any(2 * p > kk for p, kk in zip(padding, k)):
            x = g.F.pad(x, spec or sum(([p, p] for p in reversed(padding)), []), value=-math.inf)
            padding = [0] * nd
        pool = {1: g.F.max_pool1d, 2: g.F.max_pool2d, 3: g.F.max_pool3d}[nd]
        return [pool(x, k, strides, padding, _attr(node, "dilations", [1] * nd), ceil_mode=ceil)]
    include = bool(_attr(node, "count_include_pad", 0))
    if spec:
        if not include:
            raise ConverterError(f"AveragePool {node['name']}: uneven pads without count_include_pad")
        x, padding = g.F.pad(x, spec), [0] * nd
    pool = {1: g.F.avg_pool1d, 2: g.F.avg_pool2d, 3: g.F.avg_pool3d}[nd]
    return [pool(x, k, strides, padding, ceil_mode=ceil, count_include_pad=include)]


def _gemm(g, node, a, b, c=None):
    a = a.transpose(0, 1) if _attr(node, "transA", 0) else a
    b = b.transpose(0, 1) if _attr(node, "transB", 0) else b
    y = g.torch.matmul(a, b)
    alpha, beta = float(_attr(node, "alpha", 1.0)), float(_attr(node, "beta", 1.0))
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return [y]


def _reshape(g, node, x, shape):
    dims = _ints(g.static(node["inputs"][1]))
    if not _attr(node, "allowzero", 0):
        dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    return [x.reshape(dims)]


def _axes(g, node, rank: int, input_index: int = 1) -> list[int] | None:
    axes = _attr(node, "axes")
    if axes is None and len(node["inputs"]) > input_index and node["inputs"][input_index]:
        axes = _ints(g.static(node["inputs"][input_index]))
    return None if axes is None else [a % rank for a in axes]


def _reduce(g, node, x, *rest, how: str):
    axes = _axes(g, node, x.dim())
    keep = bool(_attr(node, "keepdims", 1))
    if axes is None or not axes:
        if _attr(node, "noop_with_empty_axes", 0):
            return [x]
        axes = list(range(x.dim()))
    if how == "mean":
        return [x.mean(dim=axes, keepdim=keep)]
    if how == "sum":
        return [x.sum(dim=axes, keepdim=keep)]
    y = x
    for a in sorted(axes, reverse=True):
        y = (y.amax if how == "max" else y.amin)(dim=a, keepdim=keep)
    return [y]


def _slice(g, node, x, *rest):
    starts, ends = _ints(g.static(node["inputs"][1])), _ints(g.static(node["inputs"][2]))
    axes = _axes(g, node, x.dim(), 3) or list(range(len(starts)))
    steps = _ints(g.static(node["inputs"][4])) if len(node["inputs"]) > 4 and node["inputs"][4] else [1] * len(starts)
    index = [slice(None)] * x.dim()
    for a, s, e, st in zip(axes, starts, ends, steps):
        if st <= 0:
            raise ConverterError(f"Slice {node['name']}: step {st}")
        n = x.shape[a]
        s, e = (s + n if s < 0 else s), (e + n if e < 0 else e)
        index[a] = slice(min(max(s, 0), n), min(max(e, 0), n), st)
    return [x[tuple(index)]]


def _resize(g, node, x, roi=None, scales=None, sizes=None):
    mode = _attr(node, "mode", "nearest")
    how = _attr(node, "coordinate_transformation_mode", "half_pixel")
    rank = x.dim()
    if len(node["inputs"]) > 3 and node["inputs"][3]:
        out = _ints(g.static(node["inputs"][3]))
        scale = [o / i for o, i in zip(out, x.shape)]
    else:
        scale = [float(s) for s in g.static(node["inputs"][2]).reshape(-1)]
        out = [int(math.floor(i * s)) for i, s in zip(x.shape, scale)]
    if mode != "nearest":
        if mode != "linear" or rank != 4 or how not in ("half_pixel", "align_corners", "pytorch_half_pixel"):
            raise ConverterError(f"Resize {node['name']}: mode {mode}, {how}")
        return [g.F.interpolate(x, size=out[2:], mode="bilinear", align_corners=how == "align_corners")]
    rounding = _attr(node, "nearest_mode", "round_prefer_floor")
    for axis in range(rank):
        if out[axis] == x.shape[axis]:
            continue
        i = np.arange(out[axis], dtype=np.float64)
        n, s = x.shape[axis], scale[axis]
        src = {"half_pixel": (i + 0.5) / s - 0.5, "asymmetric": i / s,
               "pytorch_half_pixel": (i + 0.5) / s - 0.5 if out[axis] > 1 else 0 * i,
               "tf_half_pixel_for_nn": (i + 0.5) / s,
               "align_corners": i * (n - 1) / max(out[axis] - 1, 1)}.get(how)
        if src is None:
            raise ConverterError(f"Resize {node['name']}: coordinate_transformation_mode {how}")
        pick = {"round_prefer_floor": np.ceil(src - 0.5), "round_prefer_ceil": np.floor(src + 0.5),
                "floor": np.floor(src), "ceil": np.ceil(src)}[rounding]
        index = g.torch.from_numpy(np.clip(pick, 0, n - 1).astype(np.int64)).to(x.device)
        x = x.index_select(axis, index)
    return [x]


def _gather(g, node, x, index):
    axis = _attr(node, "axis", 0) % x.dim()
    index = index.to(x.device)
    index = g.torch.where(index < 0, index + x.shape[axis], index)
    if index.dim() == 0:
        return [x.select(axis, int(index))]
    picked = x.index_select(axis, index.reshape(-1))
    return [picked.reshape(list(x.shape[:axis]) + list(index.shape) + list(x.shape[axis + 1:]))]


def _unsqueeze(g, node, x, axes=None):
    axes = _attr(node, "axes") if axes is None else _ints(g.static(node["inputs"][1]))
    rank = x.dim() + len(axes)
    for a in sorted(a % rank for a in axes):
        x = x.unsqueeze(a)
    return [x]


def _squeeze(g, node, x, axes=None):
    axes = _axes(g, node, x.dim())
    if axes is None:
        return [x.squeeze()]
    for a in sorted(axes, reverse=True):
        x = x.squeeze(a)
    return [x]


def _constant(g, node):
    a = node["attributes"]
    if "value" in a:
        return [g.torch.from_numpy(np.array(g.arrays[a["value"]["array"]]))]
    for key, dtype in [("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)]:
        if key in a:
            return [g.torch.from_numpy(np.array(a[key], dtype))]
    raise ConverterError(f"Constant {node['name']}: no value the peer reads")


def _constant_of_shape(g, node, shape):
    value = np.array(g.arrays[node["attributes"]["value"]["array"]]) if "value" in node["attributes"] \
        else np.zeros(1, np.float32)
    return [g.torch.from_numpy(np.full(_ints(g.static(node["inputs"][0])), value.reshape(-1)[0], value.dtype))]


def _layer_norm(g, node, x, scale, bias=None):
    axis = _attr(node, "axis", -1) % x.dim()
    return [g.F.layer_norm(x, x.shape[axis:], scale, bias, float(_attr(node, "epsilon", 1e-5)))]


def _clip(g, node, x, lo=None, hi=None):
    lo = float(g.static(node["inputs"][1])) if lo is not None else _attr(node, "min")
    hi = float(g.static(node["inputs"][2])) if hi is not None else _attr(node, "max")
    return [g.torch.clamp(x, min=lo, max=hi)]


CAST = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}

TORCH_OPS = {
    "Conv": _conv,
    "BatchNormalization": lambda g, n, x, s, b, m, v: [g.F.batch_norm(x, m, v, s, b, False, 0.0,
                                                                      float(_attr(n, "epsilon", 1e-5)))],
    "Relu": lambda g, n, x: [g.F.relu(x)],
    "Clip": _clip,
    "LeakyRelu": lambda g, n, x: [g.F.leaky_relu(x, float(_attr(n, "alpha", 0.01)))],
    "Sigmoid": lambda g, n, x: [g.torch.sigmoid(x)],
    "Tanh": lambda g, n, x: [g.torch.tanh(x)],
    "Erf": lambda g, n, x: [g.torch.erf(x)],
    "Sqrt": lambda g, n, x: [g.torch.sqrt(x)],
    "Exp": lambda g, n, x: [g.torch.exp(x)],
    "Neg": lambda g, n, x: [-x],
    "Abs": lambda g, n, x: [x.abs()],
    "Add": lambda g, n, a, b: [a + b],
    "Sub": lambda g, n, a, b: [a - b],
    "Mul": lambda g, n, a, b: [a * b],
    "Div": lambda g, n, a, b: [a / b if a.is_floating_point() else g.torch.div(a, b, rounding_mode="trunc")],
    "Pow": lambda g, n, a, b: [g.torch.pow(a, b)],
    "MaxPool": lambda g, n, x: _pool(g, n, x, "max"),
    "AveragePool": lambda g, n, x: _pool(g, n, x, "avg"),
    "GlobalAveragePool": lambda g, n, x: [x.mean(dim=list(range(2, x.dim())), keepdim=True)],
    "GlobalMaxPool": lambda g, n, x: [x.amax(dim=list(range(2, x.dim())), keepdim=True)],
    "Flatten": lambda g, n, x: [x.reshape(math.prod(x.shape[:_attr(n, "axis", 1) % (x.dim() + 1)]), -1)],
    "Gemm": _gemm,
    "MatMul": lambda g, n, a, b: [g.torch.matmul(a, b)],
    "Reshape": _reshape,
    "Transpose": lambda g, n, x: [x.permute(_attr(n, "perm", list(range(x.dim()))[::-1]))],
    "Concat": lambda g, n, *xs: [g.torch.cat(xs, dim=_attr(n, "axis"))],
    "Softmax": lambda g, n, x: [g.torch.softmax(x, dim=_attr(n, "axis", -1))],
    "LRN": lambda g, n, x: [g.F.local_response_norm(x, _attr(n, "size"), float(_attr(n, "alpha", 1e-4)),
                                                    float(_attr(n, "beta", 0.75)), float(_attr(n, "bias", 1.0)))],
    "Resize": _resize,
    "Slice": _slice,
    "ReduceMean": lambda g, n, x, *r: _reduce(g, n, x, *r, how="mean"),
    "ReduceSum": lambda g, n, x, *r: _reduce(g, n, x, *r, how="sum"),
    "ReduceMax": lambda g, n, x, *r: _reduce(g, n, x, *r, how="max"),
    "ReduceMin": lambda g, n, x, *r: _reduce(g, n, x, *r, how="min"),
    "LayerNormalization": _layer_norm,
    "Shape": lambda g, n, x: [g.torch.tensor(list(x.shape), dtype=g.torch.int64)],
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Constant": _constant,
    "ConstantOfShape": _constant_of_shape,
    "Identity": lambda g, n, x: [x],
    "Dropout": lambda g, n, x, *r: [x],
    "Cast": lambda g, n, x: [x.to(getattr(g.torch, CAST[_attr(n, "to")]))],
    "Expand": lambda g, n, x, shape: [x * g.torch.ones(_ints(g.static(n["inputs"][1])), dtype=x.dtype,
                                                      device=x.device)],
}


# ---------------------------------------------------------------------------------------------
# command line


def _names(text: str, known: list[str] | None = None) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip() and n.strip() != "none"]
    if known is not None:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise CheckError(f"no kernel check named {', '.join(unknown)}", f"the checks: {', '.join(known)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_check", description="lamina's GPU check (see the module docstring)")
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("prepare", help="compile the packages, references and peers (needs TVM, onnx, onnxruntime)")
    p.add_argument("out", type=Path)
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"zoo models or .onnx paths, comma-separated; 'zoo' for every zoo model; 'none' "
                        f"(default: {','.join(DEFAULT_MODELS)}: what fits the device tool's {CARRY_MIB} MiB)")
    p.add_argument("--ops", default=",".join(OPS), help=f"kernel checks ({','.join(OPS)}; 'none')")
    p.add_argument("--target", default="cuda", help="cuda (default), or cuda-on-opencl to run it here")
    p.add_argument("--seed", type=int, default=0, help="of the random inputs and the checks' weights")
    p.add_argument("--no-dlight", action="store_true", help="no TVM dlight peer packages")
    r = sub.add_parser("run", help="check and time a prepared folder (numpy, the runtime files, torch)")
    r.add_argument("out", type=Path)
    r.add_argument("--device", choices=["cuda", "opencl"], default="cuda")
    r.add_argument("--runs", type=int, help="timed runs (default 50 on cuda, 5 on opencl)")
    r.add_argument("--warmup", type=int, help="untimed runs first (default 10 on cuda, 1 on opencl)")
    r.add_argument("--only", help="items to run, comma-separated")
    r.add_argument("--torch", choices=["auto", "on", "off"], default="auto",
                   help="the PyTorch peer: when importable (auto), required (on) or not (off)")
    r.add_argument("--work", type=Path, help="rebuild the packages here and keep them (default: a temporary folder)")
    r.add_argument("--budget", type=float, default=240.0, help="seconds; past it, items are checked but not timed")
    r.add_argument("--json", type=Path, help="write the results here")
    r.add_argument("--rtol", type=float, default=RTOL)
    r.add_argument("--atol", type=float, default=ATOL, help="relative to the output's largest magnitude")
    args = parser.parse_args(argv)
    try:
        if args.mode == "prepare":
            from lamina.compiler.errors import LaminaError

            try:
                from lamina.runtime.benchmark import zoo_models

                models = zoo_models() if args.models == "zoo" else _names(args.models)
                prepare(args.out, models, _names(args.ops, list(OPS)), args.target, args.seed, not args.no_dlight)
            except LaminaError as e:
                print(e.render(), file=sys.stderr)
                return 1
            return 0
        return run(args.out, args.device, args.runs, args.warmup, args.work, args.torch,
                   _names(args.only) if args.only else None, args.budget, args.json, args.rtol, args.atol)
    except CheckError as e:
        print(e.render(), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
