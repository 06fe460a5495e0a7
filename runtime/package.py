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
    ir.mlir             the IR text given, its literals over 1 KiB elided as MLIR elides them
                        (`dense_resource<__elided__>`: weights.bin holds them); for people, the
                        runner never reads it (ResNet-18's: 93 MB with them, 43 KB without)
    schedules/NAME.mlir the schedules given (likewise)

A GPU target's package (opencl, opencl-adreno, cuda) is the same file with these differences:

    manifest.json       "target": {"name", "device": "opencl" | "cuda", "needs": "an OpenCL device" |
                        "an NVIDIA GPU", "arch": "sm_90" (cuda), "cross": false, and "mtriple",
                        "machine", "system" null}: it runs on any host with the device, without TVM
    plan.json           "device": {"language", "buffer_align"}: every arena offset is a multiple of
                        buffer_align (the target's: 512 for OpenCL, 256 for CUDA; the runner
                        refuses a device that needs more); each kernel is
                        {"member": "kernels/NAME.json", "format": "device-plan", "language",
                         "source": "kernels/NAME.cl" | "kernels/NAME.cu",
                         "ptx": "kernels/NAME.ptx", "binary": "kernels/NAME.cubin"}  (the last two: cuda)
                        and a call's "entry" is "main" (unused: the kernel's launches say what runs)
    kernels/NAME.json   the kernel's launch configuration: runtime/device_plan.py's DevicePlan JSON
                        without its code ("launches": function, args, grid, block, dynamic shared
                        bytes; "scratch_bytes"; "resources"; "arch")
    kernels/NAME.cl     its OpenCL C (the device compiles it when the package loads), or for cuda:
    kernels/NAME.cu     its CUDA C (for people and other tools: the runner loads the cubin)
    kernels/NAME.ptx    its PTX (the driver compiles it when the GPU cannot load the cubin)
    kernels/NAME.cubin  its cubin for "arch", from lowering/cuda_compile.py: made by the build, or
                        here for a plan without one (a kernel cache entry from before the build
                        compiled cubins); writing a cuda package needs a CUDA compiler, running
                        it does not
    weights.bin         each constant as its kernel reads it, as on the CPU; uploaded once to the
                        device when the package loads

The format stays 1: a CPU package is written exactly as before, and a format-1 reader that
predates GPU packages refuses one in one line (a kernel format it does not run: "built for
opencl; runs on that device").

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
from lamina.runtime.device_executor import DeviceKernel
from lamina.runtime.memory_plan import plan_steps
from lamina.runtime.package_runner import (ALIGN, DEVICE_CODE, DEVICE_FORMAT, FORMAT, KERNEL_FORMATS, KIND, MANIFEST,
                                           NEEDS, PLAN, WEIGHTS, PackageError, PackageInputError, PackagedModel,
                                           inspect_package, installed_tvm_version, load_package)

SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
ELIDE_BYTES = 1024  # ir.mlir: hex literals (`dense<"0x...">`) of more bytes are elided
LARGE_LITERAL = re.compile(r'dense<"0x[0-9A-Fa-f]{%d,}">' % (2 * ELIDE_BYTES + 1))


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
    """Each distinct kernel library once, as kernels/<its cache name><its suffix>; each distinct
    GPU kernel once, as kernels/<its cache name>.json and its code members."""

    def __init__(self):
        self.entries: list[dict] = []
        self.files: dict[str, Path | bytes] = {}  # member -> the library on disk, or its bytes
        self._index: dict[str, int] = {}  # resolved library path (a device plan's sha256) -> index
        self.arch: set[str] = set()       # the cuda kernels' arch

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

    def add_device(self, kernel: DeviceKernel, target, name: str) -> int:
        """A GPU kernel: its launch configuration and its code, each a member (module docstring);
        a cuda kernel without a cubin is compiled here (lowering/cuda_compile.py)."""
        key = hashlib.sha256(json.dumps(kernel.plan.to_json(), sort_keys=True).encode()).hexdigest()
        if key in self._index:
            return self._index[key]
        plan = _with_cubin(kernel.plan, target, name)
        base = Path(kernel.library).stem if kernel.library else "kernel"
        stem, n = base, 1
        while f"kernels/{stem}.json" in self.files:
            stem, n = f"{base}-{n}", n + 1
        config = plan.to_json()
        code = {"source": config.pop("source").encode(), "ptx": config.pop("ptx").encode(), "binary": plan.binary}
        config.pop("binary")
        entry = {"member": f"kernels/{stem}.json", "format": DEVICE_FORMAT, "language": plan.language}
        self.files[entry["member"]] = json.dumps(config, indent=1, sort_keys=True).encode()
        for part, suffix in DEVICE_CODE[plan.language].items():
            entry[part] = f"kernels/{stem}{suffix}"
            self.files[entry[part]] = code[part]
        if plan.language == "cuda":
            self.arch.add(plan.arch)
        self.entries.append(entry)
        self._index[key] = len(self.entries) - 1
        return self._index[key]


def _with_cubin(plan, target, name: str):
    """A cuda plan with its PTX and cubin: as the build made it, else (a plan cached before the
    build compiled cubins) compiled now, a BuildError saying what to install when there is no
    CUDA compiler; an OpenCL plan as it is."""
    if plan.language != "cuda" or plan.binary:
        return plan
    from lamina.lowering.cuda_compile import compile_plan

    return compile_plan(plan, target, name)


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
    kernel_names = [getattr(k, "name", None) for k in getattr(compiled, "kernels", ())]  # for cuda's messages
    if len(kernel_names) != len(compiled.steps):
        kernel_names = [None] * len(compiled.steps)
    for (op, kernel, shapes, _), kernel_name in zip(compiled.steps, kernel_names):
        library = kernel if isinstance(kernel, DeviceKernel) else getattr(kernel, "library", None)
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
        index = (kernels.add_device(kernel, compiled.target, kernel_name or op.name) if isinstance(kernel, DeviceKernel)
                 else kernels.add(library, op))
        calls.append({"kernel": index, "entry": _entry_of(kernel), "op": op.name, "args": args})
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
    language = _device_language(compiled)
    if language is not None:
        plan["device"] = {"language": language, "buffer_align": int(compiled.target.buffer_align)}
    return plan, weights, kernels


def _device_language(compiled) -> str | None:
    """The language of a GPU target's kernels ("opencl", "cuda"), None for a CPU target."""
    return getattr(getattr(compiled, "target", None), "device_language", None)


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
    language = _device_language(compiled)
    if language is not None:  # a GPU target: any host with the device runs it
        info = {"name": name, "cross": False, "mtriple": None, "machine": None, "system": None,
                "device": language, "needs": NEEDS[language]}
        if language == "cuda":
            info["arch"] = ",".join(sorted(kernels.arch)) or compiled.target.tvm.get("arch")
        return info
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
    members = {PLAN: json.dumps(plan, indent=1, sort_keys=True).encode(), "ir.mlir": elide_literals(ir_text).encode()}
    for name, text in sorted((schedules or {}).items()):
        if not SCHEDULE_NAME.match(str(name)):
            raise PackageError(f"schedule name {name!r} is not a plain file name",
                               hint="use letters, digits, '_', '.', '+' and '-'")
        members[f"schedules/{name}.mlir"] = str(text).encode()
    for member, file in kernels.files.items():
        members[member] = file.read_bytes() if isinstance(file, Path) else file
    members[WEIGHTS] = weights.blob()
    return members, kernels


def elide_literals(ir_text: str | None) -> str:
    """The IR text with each hex literal over ELIDE_BYTES as `dense_resource<__elided__>` (what
    print_ir(elide_threshold=...) prints; MLIR's own form), its type kept."""
    return LARGE_LITERAL.sub("dense_resource<__elided__>", ir_text or "")


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
    from lamina.lowering.schedules.files import file_name, has_schedule, schedule_text

    return {file_name(k.name)[:-5]: schedule_text(k) for k in compiled.kernels if has_schedule(k)}


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
