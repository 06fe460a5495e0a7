"""Compiled packages, as tvmc's: a `CompiledModel` written to ONE tar file that runs without the
compiler (`load_package`, in runtime/package_runner.py, imports neither tvm, onnx nor lark).

**A package is trusted input, like a shared library**: its kernels are native code that runs in
the loading process. Reading checks member names and types, the manifest's hashes and the plan's
bounds, and writes only inside its own temporary folder; that catches damage and mislabelling,
it does not make a package from an untrusted source safe.

The tar file (uncompressed, so the weights can be memory-mapped from it; deterministic: the same
model gives the same bytes):

    manifest.json       {"kind": "lamina-package", "format": 1, "tvm_version": "0.27.0.post1",
                         "lamina_version", "target": {"name", "cross", "mtriple", "machine", "system"},
                         "threads": 2, "members": {NAME: {"sha256", "size"}} for every other member}
    plan.json           {"arena_bytes", "kernels": [{"member", "format"}],
                         "calls": [{"kernel": i, "entry": "main", "op": "nn.fused", "args": [ARG]}],
                         "constants": [{"offset", "shape", "dtype", "nbytes"}],
                         "inputs": [{"name", "shape", "dtype"}],
                         "outputs": [{"name", "shape", "dtype", "from": ARG}],
                         "free_concats": [{"op": "nn.concat", "output": ARG, "inputs": [ARG]}]}
                        ARG = {"kind": "arena", "offset", "shape", "dtype"} | {"kind": "input", "index"}
                            | {"kind": "constant", "index"}
    weights.bin         every constant a kernel reads, each at a 64-byte aligned offset, already in the
                        layout the kernel reads (packed where it reads a packed weight), each once
    kernels/NAME.so     each distinct kernel library once; a kernel's "format" is "shared-library"
                        (.so, runs here), "object" (.o) or "object-archive" (.tar of objects, from a
                        cross build's export_library): those are for the device of `target`, and
                        loading such a package to run it says so
    ir.mlir             the IR text given (for people; the runner never reads it)
    schedules/NAME.mlir the schedules given (likewise)

The plan is what `CompiledModel._bind` builds (runtime/executor.py), written down: the same kernel
order, the same arena offsets (from the same `memory_plan.plan_steps`), the same constant
operands (packed with the kernel's own packing function), outputs from the arena, an input or a
constant.

Free concats (runtime/memory_plan.py `plan_concats`) need nothing new to run: the concat has no
call, and each producer's output argument is already its slice of the concat's output (an
"arena" argument at the slice's offset, inside the output's bytes), exactly as the executor
binds it. `free_concats` records the aliasing for people and for the reader's bounds check
(every input slice inside its output); a reader that ignores it runs the package the same. So
the plan's meaning did not change and the format stays 1: a package with free concats runs
correctly on a format-1 reader that predates them, and this reader takes packages without the
key. Names: inputs as `lamina run` names them (the parameter's name, else input<i>);
outputs as given (`output_names`), else the results' names (an ONNX model's output names), else #<i>.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import tarfile
from pathlib import Path

import numpy as np

from lamina.compiler.files import check_output, write_output
from lamina.runtime.memory_plan import plan_steps
from lamina.runtime.package_runner import (ALIGN, FORMAT, KERNEL_FORMATS, KIND, MANIFEST, PLAN, WEIGHTS,
                                           PackageError, PackageInputError, PackagedModel,
                                           inspect_package, installed_tvm_version, load_package)

SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


def runner_path() -> Path:
    """The standalone runner's file: copy it next to a package, or load it by path, to run
    packages in a process that never imports lamina's compiler (see package_runner.py)."""
    return Path(__file__).with_name("package_runner.py")


# ---------------------------------------------------------------------------------------------
# the plan, from a CompiledModel


class _Weights:
    """The weights file being laid out: each constant operand once, at a 64-byte aligned offset,
    in the layout its kernel reads. The same array object with the same packing is packed once;
    equal bytes are stored once whatever object they came from (kernels never write constants)."""

    def __init__(self):
        self.entries: list[dict] = []
        self.arrays: list[np.ndarray] = []
        self.size = 0
        self._by_object: dict = {}   # (id(array), id(pack)) -> index; the arrays are held in _held
        self._by_content: dict = {}  # (dtype, shape, sha256) -> index
        self._held: list = []

    def add(self, array, pack=None) -> int:
        key = (id(array), id(pack) if pack is not None else None)
        if key in self._by_object:
            return self._by_object[key]
        self._held.append((array, pack))
        host = pack(np.asarray(array)) if pack is not None else np.asarray(array)
        host = np.require(host, requirements="C")  # (np.ascontiguousarray makes a 0-d array 1-d)
        if not host.dtype.isnative:
            host = host.astype(host.dtype.newbyteorder("="))
        content = (host.dtype.str, host.shape, hashlib.sha256(host.tobytes()).hexdigest())
        if content not in self._by_content:
            offset = -(-self.size // ALIGN) * ALIGN
            self.entries.append({"offset": offset, "shape": list(host.shape), "dtype": _dtype_name(host.dtype),
                                 "nbytes": host.nbytes})
            self.arrays.append(host)
            self.size = offset + host.nbytes
            self._by_content[content] = len(self.entries) - 1
        self._by_object[key] = self._by_content[content]
        return self._by_object[key]

    def blob(self) -> np.ndarray:
        """The weights file's bytes: zero padding between the aligned constants."""
        out = np.zeros(self.size, np.uint8)
        for entry, array in zip(self.entries, self.arrays):
            out[entry["offset"]:entry["offset"] + entry["nbytes"]] = array.reshape(-1).view(np.uint8)
        return out


class _Kernels:
    """Each distinct kernel library once, as kernels/<its cache name><its suffix>."""

    def __init__(self):
        self.entries: list[dict] = []
        self.files: dict[str, Path] = {}  # member -> the library on disk
        self._index: dict[str, int] = {}  # resolved library path -> index

    def add(self, library, op) -> int:
        path = Path(library).resolve()
        if str(path) in self._index:
            return self._index[str(path)]
        suffix = path.suffix
        if suffix not in KERNEL_FORMATS:
            raise PackageError(f"the kernel of '{op.name}' is {path.name}, which is not a kernel library "
                               f"({', '.join(KERNEL_FORMATS)})", hint="rebuild the model")
        if not path.is_file():
            raise PackageError(f"the kernel library {path} of '{op.name}' is missing (the kernel cache was cleared?)",
                               hint="compile the model again, then write the package")
        member = f"kernels/{path.stem}{suffix}"
        n = 1
        while member in self.files:
            member, n = f"kernels/{path.stem}-{n}{suffix}", n + 1
        self.files[member] = path
        self.entries.append({"member": member, "format": KERNEL_FORMATS[suffix]})
        self._index[str(path)] = len(self.entries) - 1
        return self._index[str(path)]


def _dtype_name(dtype) -> str:
    return np.dtype(dtype).name


def _value_type(value) -> tuple[list[int], str]:
    t = value.type
    shape = list(getattr(t, "shape", ()))
    if any(d is None for d in shape):
        raise PackageError(f"value {value} has a dynamic shape {t}; a package needs static shapes",
                           hint="pin dynamic input dims with --input-shape")
    return [int(d) for d in shape], _dtype_name(t.element_type.numpy_dtype)


def buffer_placement(compiled) -> dict:
    """value -> (arena offset, nbytes) for every kernel output, as `CompiledModel._bind` placed
    it. The executor keeps `memory_plan` but not its value -> buffer map, so the map is made
    again by `plan_steps` (deterministic: same steps, same outputs, same plan), and the offsets
    are checked against the compiled model's own plan."""
    buffer_of = getattr(compiled, "buffer_of", None)
    plan = compiled.memory_plan
    if buffer_of is None:
        replanned, buffer_of = plan_steps([s[0] for s in compiled.steps], compiled.returns,
                                          concats=getattr(compiled, "concats", ()))
        same = len(replanned.buffers) == len(plan.buffers) and all(
            (a.offset, a.nbytes) == (b.offset, b.nbytes) for a, b in zip(replanned.buffers, plan.buffers))
        if not same:
            raise PackageError("the memory plan made again differs from the compiled model's",
                               hint="CompiledModel should keep its buffer map (self.buffer_of) for packages")
    return {v: (plan.buffers[i].offset, plan.buffers[i].nbytes) for v, i in buffer_of.items()}


def _entry_of(kernel) -> str:
    """The kernel's function name: its TVM kernel's entry (a native build), else its own."""
    return getattr(getattr(kernel, "kernel", None), "entry", None) or getattr(kernel, "entry", None) or "main"


def build_plan(compiled, output_names: list[str] | None = None) -> tuple[dict, _Weights, _Kernels]:
    """The plan of `compiled` (see the module docstring), its weights and its kernel files."""
    placement = buffer_placement(compiled)
    names = _output_names(compiled, output_names)
    params = list(compiled.params)
    weights, kernels = _Weights(), _Kernels()

    def arena(value) -> dict:
        shape, dtype = _value_type(value)
        return {"kind": "arena", "offset": placement[value][0], "shape": shape, "dtype": dtype}

    calls = []
    for op, kernel, shapes, _ in compiled.steps:
        library = getattr(kernel, "library", None)
        if library is None:
            if all(0 in s for s in shapes):
                continue  # an EmptyKernel: nothing to compute (the executor makes no call either)
            raise PackageError(f"the kernel of '{op.name}' ({type(kernel).__name__}) has no compiled library "
                               f"to package", hint="packages hold TVM-built kernels only")
        constant = getattr(kernel, "constant", None) or {}  # operand index -> packing function or None
        args = []
        for i, v in enumerate(op.operands):
            if v in placement:
                args.append(arena(v))
            elif v in params:
                args.append({"kind": "input", "index": params.index(v)})
            elif v in compiled.constants:
                pack = constant.get(i)  # a packing function, or None: the array as it is
                args.append({"kind": "constant", "index": weights.add(compiled.constants[v], pack)})
            else:
                raise PackageError(f"operand #{i} of '{op.name}' is neither computed, an input nor a constant")
        args += [arena(r) for r in op.results]
        calls.append({"kernel": kernels.add(library, op), "entry": _entry_of(kernel), "op": op.name, "args": args})
    plan = {
        "arena_bytes": int(compiled.memory_plan.arena_bytes),
        "kernels": kernels.entries,
        "calls": calls,
        "inputs": [_input_entry(p, i) for i, p in enumerate(params)],
        "outputs": [_output_entry(compiled, v, name, placement, weights, params, arena)
                    for v, name in zip(compiled.returns, names)],
    }
    plan["free_concats"] = [{"op": c.op.name, "output": arena(c.op.results[0]), "inputs": [arena(v) for v in c.op.operands]}
                            for c in getattr(compiled, "concats", ()) if c.free]
    plan["constants"] = weights.entries  # last: outputs may add constants
    return plan, weights, kernels


def _input_entry(param, index: int) -> dict:
    shape, dtype = _value_type(param)
    return {"name": param.name_hint or f"input{index}", "shape": shape, "dtype": dtype}


def _output_names(compiled, given: list[str] | None) -> list[str]:
    """`given` (what `lamina run` prints: ONNX's output names), else the results' own names when
    every result has one and they differ, else #0, #1, ..."""
    count = len(compiled.returns)
    if given is not None:
        if len(given) != count:
            raise PackageError(f"{len(given)} output names for a model with {count} outputs")
        return [str(n) for n in given]
    hints = [v.name_hint for v in compiled.returns]
    if all(hints) and len(set(hints)) == count:
        return hints
    return [f"#{i}" for i in range(count)]


def _output_entry(compiled, value, name, placement, weights, params, arena) -> dict:
    """Where an output comes from, in the executor's order: the arena, a constant, an input."""
    shape, dtype = _value_type(value)
    if value in placement:
        source = arena(value)
    elif value in compiled.constants:
        source = {"kind": "constant", "index": weights.add(compiled.constants[value])}
    else:
        source = {"kind": "input", "index": params.index(value)}
    return {"name": name, "shape": shape, "dtype": dtype, "from": source}


def target_info(compiled, kernels: _Kernels) -> dict:
    """The manifest's target: its name, whether it is a cross build (kernels for another
    device: from the target registry when there is one, and always when a kernel is an object
    file), its LLVM triple, and for a native build this machine's architecture and system."""
    name = compiled.target_name
    info = {"name": name, "cross": False, "mtriple": None, "machine": platform.machine(), "system": platform.system()}
    registered = getattr(compiled, "target", None)
    if not hasattr(registered, "cross"):
        try:
            from lamina.lowering import targets

            registered = targets.get(name)
        except Exception:  # no registry (older lowering) or a name it does not know: keep the defaults
            registered = None
    if registered is not None and hasattr(registered, "cross"):
        info["cross"] = bool(registered.cross)
        spec = getattr(registered, "tvm", None)
        if isinstance(spec, dict):
            info["mtriple"] = spec.get("mtriple")
    if any(k["format"] != "shared-library" for k in kernels.entries):
        info["cross"] = True
    if info["cross"]:
        info["machine"] = info["system"] = None  # the device's, not this one's
    return info


def _tvm_version() -> str:
    import sys

    tvm = sys.modules.get("tvm")
    version = getattr(tvm, "__version__", None) or installed_tvm_version()
    if not version:
        raise PackageError("cannot tell which TVM built the kernels", hint="install apache-tvm")
    return version


# ---------------------------------------------------------------------------------------------
# writing


class _Bytes:
    """A read() over a buffer without copying it (tarfile copies members from file objects)."""

    def __init__(self, data):
        self.view, self.pos = memoryview(data).cast("B"), 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.view) if n is None or n < 0 else min(len(self.view), self.pos + n)
        chunk, self.pos = self.view[self.pos:end], end
        return bytes(chunk)


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _members(compiled, ir_text: str, schedules: dict | None, output_names) -> tuple[dict, _Kernels]:
    """name -> bytes-like of every member but the manifest, in the order they are written."""
    plan, weights, kernels = build_plan(compiled, output_names)
    members = {PLAN: json.dumps(plan, indent=1, sort_keys=True).encode(), "ir.mlir": (ir_text or "").encode()}
    for name, text in sorted((schedules or {}).items()):
        if not SCHEDULE_NAME.match(str(name)):
            raise PackageError(f"schedule name {name!r} is not a plain file name",
                               hint="use letters, digits, '_', '.', '+' and '-'")
        members[f"schedules/{name}.mlir"] = str(text).encode()
    for member, file in kernels.files.items():
        members[member] = file.read_bytes()
    members[WEIGHTS] = weights.blob()
    return members, kernels


def manifest_for(compiled, members: dict, kernels: _Kernels) -> dict:
    import lamina

    return {
        "kind": KIND,
        "format": FORMAT,
        "lamina_version": getattr(lamina, "__version__", None),
        "tvm_version": _tvm_version(),
        "target": target_info(compiled, kernels),
        "threads": int(compiled.threads),
        "members": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": memoryview(data).nbytes}
                    for name, data in members.items()},
    }


def schedule_texts(compiled) -> dict[str, str]:
    """Each kernel's schedule as the text of its schedule file, by file stem (what `lamina
    compile -o model.tar` stores under schedules/)."""
    from lamina.lowering.schedules.files import file_name, schedule_text

    return {file_name(k.name)[:-5]: schedule_text(k) for k in compiled.kernels if k.scheduled is not None}


def write_package(compiled, path, *, ir_text: str = "", schedules: dict[str, str] | None = None,
                  inputs=(), output_names: list[str] | None = None) -> Path:
    """Write `compiled` (a CompiledModel) as one package file at `path`; returns the path.

    `ir_text` and `schedules` ({name: MLIR text}) are stored for people to read; `inputs` are
    the paths of the model's own files (the .onnx, .mlir), which the package may not overwrite;
    `output_names` default to the results' names (see `_output_names`).
    The file is written next to `path` under a temporary name and renamed over it, so a reader
    sees the old file or the whole new one, never half of one (compiler/files.py `write_output`)."""
    path = Path(path)
    refusal = dict(inputs=inputs, what="the package", role="the model's input file", error=PackageError)
    check_output(path, **refusal)  # before the work, not only after it
    members, kernels = _members(compiled, ir_text, schedules, output_names)
    manifest = json.dumps(manifest_for(compiled, members, kernels), indent=1, sort_keys=True).encode()
    write_output(path, _tar_writer([(MANIFEST, manifest), *members.items()]), **refusal)
    return path


def _tar_writer(members: list):
    """A function that writes the tar file of `members` ((name, bytes-like)) to a binary file:
    compiler/files.py `write_output` calls it on a temporary file that it renames over the path."""
    def write(f) -> None:
        with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in members:
                tar.addfile(_tar_info(name, memoryview(data).nbytes), _Bytes(data))
    return write


__all__ = ["write_package", "load_package", "inspect_package", "build_plan", "runner_path", "PackageError",
           "PackageInputError", "PackagedModel", "FORMAT"]
