"""GPU packages (runtime/package.py, runtime/package_runner.py): a model compiled for opencl,
opencl-adreno or cuda, written as a package, runs without TVM on lamina's own device runtime
(runtime/opencl.py, runtime/cuda.py) and gives the compiled model's outputs; without the device,
loading says in one line what is needed; a damaged device plan is refused in one line.

The OpenCL runs need an OpenCL device (PoCL on the CPU here: the `opencl_device` fixture skips
without one, and fails under CI=true); the cuda package is only written here (writing it needs a
CUDA compiler for its cubins, running it an NVIDIA GPU). Models build in a few seconds each from
the session's kernel cache (`kernel_dir`).
"""

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina.compiler.errors import LaminaError
from lamina.runtime.package import PackageError, inspect_package, load_package, runner_path, write_package
from lamina.runtime.package_runner import fill

from budget import THOROUGH

LAMINA = Path(sys.executable).parent / "lamina"
RUNTIME = runner_path().parent
MODELS = ["resnet18", "transformer_block"] + ["mobilenetv2"] * THOROUGH  # its 70 s: tests/budget.py
OPENCL_TARGETS = ["opencl", "opencl-adreno"]
OUTPUT_LINE = re.compile(r"^output .*$", re.M)


@pytest.fixture(scope="module", autouse=True)
def kernel_cache(kernel_dir):
    """The session's kernel cache, for the models compiled here and the `lamina` subprocesses."""
    before = os.environ.get("LAMINA_CACHE_DIR")
    os.environ["LAMINA_CACHE_DIR"] = str(kernel_dir)
    yield kernel_dir
    if before is None:
        del os.environ["LAMINA_CACHE_DIR"]
    else:
        os.environ["LAMINA_CACHE_DIR"] = before


def _inputs(model) -> list[np.ndarray]:
    """The inputs `lamina run --fill random` makes (the runner's `fill`: seed = input index)."""
    return [fill(tuple(p.type.shape), p.type.element_type.numpy_dtype, "random", i) for i, p in enumerate(model.params)]


def _members(path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _lamina(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(LAMINA), *map(str, args)], capture_output=True, text=True, timeout=600)


def _refusal(proc: subprocess.CompletedProcess, hint: bool = True) -> str:
    """A refusal as the command line prints it: exit 1, no traceback, one `error:` line (then a
    `hint:` line where `hint`); returns the error line."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: "), proc.stderr
    assert len(lines) == (2 if hint else 1) and (not hint or lines[1].startswith("hint: ")), proc.stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------
# OpenCL packages run as the compiled model


@pytest.mark.parametrize("target", OPENCL_TARGETS)
@pytest.mark.parametrize("name", MODELS)
def test_an_opencl_package_gives_the_compiled_models_outputs(name, target, zoo, tmp_path, opencl_device):
    model = lamina.compile(str(zoo / f"{name}.onnx"), target=target, opt_level=3)
    path = write_package(model, tmp_path / f"{name}.tar")
    packaged = load_package(path, target=target)
    x = _inputs(model)
    expected, ours = model(*x), packaged(*x)
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    assert packaged.num_kernels == model.num_kernels and packaged.device_name == opencl_device.name
    assert packaged.target_name == target
    manifest, plan = inspect_package(path)
    assert manifest["target"] == {"name": target, "device": "opencl", "needs": "an OpenCL device", "cross": False,
                                  "mtriple": None, "machine": None, "system": None}
    assert plan["device"] == {"language": "opencl", "buffer_align": 512}
    members = _members(path)
    for kernel in plan["kernels"]:
        assert kernel["format"] == "device-plan" and kernel["member"].endswith(".json")
        assert kernel["source"] == kernel["member"][:-5] + ".cl" and kernel["source"] in members
        assert json.loads(members[kernel["member"]])["launches"]


def test_lamina_compile_and_run_a_package_on_the_command_line(zoo, tmp_path, opencl_device):
    """`lamina compile --target opencl -o m.tar`, then `lamina run m.tar` and the runner file
    print the compiled model's outputs for the same inputs."""
    onnx_path = zoo / "transformer_block.onnx"
    package = tmp_path / "m.tar"
    proc = _lamina("compile", onnx_path, "-O3", "--target", "opencl", "-o", package)
    assert proc.returncode == 0, proc.stderr
    ran = _lamina("run", package, "--fill", "random")
    assert ran.returncode == 0, ran.stderr
    runner = subprocess.run([sys.executable, str(runner_path()), str(package), "--fill", "random",
                             "--save", str(tmp_path / "out.npz")], capture_output=True, text=True, timeout=600)
    assert runner.returncode == 0, runner.stderr
    assert f"on {opencl_device.name}" in runner.stdout
    printed = OUTPUT_LINE.findall(ran.stdout)
    assert printed and printed == OUTPUT_LINE.findall(runner.stdout)
    model = lamina.compile(str(onnx_path), target="opencl", opt_level=3)
    saved = np.load(tmp_path / "out.npz")
    expected = model(*_inputs(model))
    assert len(saved.files) == len(expected)
    for name, value in zip(load_package(package).output_names, expected):
        assert np.array_equal(saved[name], value)


LEAN = """
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("lamina_package_runner", sys.argv[1])
runner = importlib.util.module_from_spec(spec); spec.loader.exec_module(runner)
model = runner.load_package(sys.argv[2])
x = [runner.fill(s, d, "random", i) for i, (s, d) in enumerate(zip(model.input_shapes, model.input_dtypes))]
np.save(sys.argv[3], model(*x)[0])
print(json.dumps({m: m in sys.modules for m in ["tvm", "tvm_ffi", "onnx", "lark", "lamina", "_lamina_opencl"]}))
"""


@pytest.fixture(scope="module")
def small(zoo, tmp_path_factory, kernel_cache):
    """(CompiledModel, its package) of the zoo's transformer block for opencl at -O3."""
    model = lamina.compile(str(zoo / "transformer_block.onnx"), target="opencl", opt_level=3)
    return model, write_package(model, tmp_path_factory.mktemp("small") / "block.tar")


def test_the_runner_file_runs_a_gpu_package_without_tvm(small, tmp_path, opencl_device):
    """Loaded by path, the runner loads device_plan.py and opencl.py from its own folder, and
    neither TVM nor tvm_ffi (nor onnx, lark, lamina)."""
    model, package = small
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", LEAN, str(runner_path()), str(package), str(tmp_path / "y.npy")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"tvm": False, "tvm_ffi": False, "onnx": False, "lark": False, "lamina": False,
                                       "_lamina_opencl": True}
    assert np.array_equal(np.load(tmp_path / "y.npy"), model(*_inputs(model))[0])


def test_a_runner_copied_alone_says_which_files_a_gpu_package_needs(small, tmp_path, opencl_device):
    _, package = small
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(runner_path(), alone)
    proc = subprocess.run([sys.executable, str(alone / "package_runner.py"), str(package), "--fill", "random"],
                          capture_output=True, text=True, timeout=600)
    assert (f"error: {package}: running it on an OpenCL device needs device_plan.py and opencl.py beside "
            "package_runner.py") in _refusal(proc)
    for name in ("device_plan.py", "opencl.py"):
        shutil.copy(RUNTIME / name, alone)
    proc = subprocess.run([sys.executable, str(alone / "package_runner.py"), str(package), "--fill", "random"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert OUTPUT_LINE.findall(proc.stdout)


def test_outputs_from_the_device_an_input_and_a_constant(tmp_path, opencl_device):
    text = """module {
  func.func @main(%x: tensor<1x4xf32>, %unused: tensor<2xi64>) -> (tensor<1x4xf32>, tensor<1x4xf32>, tensor<2x2xf32>) {
    %w = nn.constant attributes {value = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
    %r = nn.relu %x : (tensor<1x4xf32>) -> tensor<1x4xf32>
    func.return %r, %x, %w : tensor<1x4xf32>, tensor<1x4xf32>, tensor<2x2xf32>
  }
}"""
    model = lamina.compile(lamina.parse(text), target="opencl")
    packaged = load_package(write_package(model, tmp_path / "m.tar", output_names=["a", "b", "c"]))
    x, unused = np.array([[-1, 2, -3, 4]], np.float32), np.zeros(2, np.int64)
    ours = packaged(x, unused)
    for a, b in zip(ours, model(x, unused)):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert packaged.output_shapes == [(1, 4), (1, 4), (2, 2)] and packaged.input_names == ["x", "unused"]
    kinds = [o["from"]["kind"] for o in inspect_package(tmp_path / "m.tar")[1]["outputs"]]
    assert kinds == ["arena", "input", "constant"]
    ours[0][0, 1] = ours[1][0, 0] = ours[2][0, 0] = 99.0  # outputs are copies
    again = packaged(x, unused)
    assert again[0][0, 1] == 2.0 and again[1][0, 0] == -1.0 and again[2][0, 0] == 1.0


def test_without_its_device_an_opencl_package_says_what_it_needs_in_one_line(small):
    """(A device that is not there: LAMINA_OPENCL_DEVICE names none; without pyopencl or a
    driver, the line says to install them.)"""
    _, package = small
    env = {**os.environ, "LAMINA_OPENCL_DEVICE": "no-such-device"}
    for command in ([str(LAMINA), "run"], [sys.executable, str(runner_path())]):
        proc = subprocess.run([*command, str(package), "--fill", "random"], capture_output=True, text=True, env=env,
                              timeout=600)
        assert _refusal(proc, hint=False).startswith(f"error: {package} needs an OpenCL device: ")


def test_a_device_that_needs_more_alignment_than_the_plan_is_refused(small, tmp_path, opencl_device):
    _, package = small
    bad = _rewrite(package, tmp_path / "bad.tar", plan=lambda p: _set(p, ["device", "buffer_align"], 64))
    with pytest.raises(PackageError, match=f"needs buffers aligned to {opencl_device.align} bytes; the package's "
                                           "plan aligns them to 64"):
        load_package(bad)


def test_a_gpu_package_for_another_target_says_so(small):
    _, package = small
    with pytest.raises(PackageError, match="built for target 'opencl', not 'llvm'"):
        load_package(package, target="llvm")


# ---------------------------------------------------------------------------------------------
# CUDA: written here, run on an NVIDIA GPU


@pytest.fixture(scope="module")
def cuda_package(zoo, tmp_path_factory, kernel_cache):
    """ResNet-18 at -O3 for cuda as a package (compiled only: no GPU needed; its cubins need a
    CUDA compiler, lowering/cuda_compile.py)."""
    try:
        from lamina.lowering.cuda_compile import find_compiler
    except ImportError as e:
        pytest.skip(f"lowering/cuda_compile.py is not importable yet ({e})")
    from lamina.lowering.build import BuildError

    try:
        find_compiler()
    except BuildError as e:
        pytest.skip(f"no CUDA compiler to make the package's cubins: {e.message}")
    model = lamina.compile(str(zoo / "resnet18.onnx"), target="cuda", opt_level=3)
    return model, write_package(model, tmp_path_factory.mktemp("cuda") / "resnet18.tar")


def test_a_cuda_package_holds_each_kernels_code_and_launches(cuda_package):
    _, package = cuda_package
    size = package.stat().st_size
    print(f"the cuda ResNet-18 package: {size / 2**20:.1f} MiB")
    assert size < 64 * 2**20
    manifest, plan = inspect_package(package)  # checked as load_package checks it, without a GPU
    assert manifest["target"]["device"] == "cuda" and manifest["target"]["needs"] == "an NVIDIA GPU"
    assert manifest["target"]["arch"] == "sm_90" and manifest["target"]["machine"] is None
    assert plan["device"] == {"language": "cuda", "buffer_align": 256}
    members = _members(package)
    for kernel in plan["kernels"]:
        stem = kernel["member"][:-len(".json")]
        assert (kernel["source"], kernel["ptx"], kernel["binary"]) == (f"{stem}.cu", f"{stem}.ptx", f"{stem}.cubin")
        assert members[kernel["binary"]].startswith(b"\x7fELF")  # a cubin is an ELF file
        assert b".entry" in members[kernel["ptx"]] and b"__global__" in members[kernel["source"]]
        config = json.loads(members[kernel["member"]])
        assert config["arch"] == "sm_90" and config["launches"] and "source" not in config
        for launch in config["launches"]:
            assert f".entry {launch['function']}".encode() in members[kernel["ptx"]]


def test_a_cuda_package_without_a_gpu_says_it_needs_one_in_one_line(cuda_package, zoo):
    model, package = cuda_package
    from lamina.runtime import cuda

    if cuda.missing_reason() is None:  # an NVIDIA GPU: the package runs, and gives the CPU's numbers
        x = _inputs(model)
        cpu = lamina.compile(str(zoo / "resnet18.onnx"), opt_level=3)
        assert np.allclose(load_package(package)(*x)[0], cpu(*x)[0], rtol=1e-4, atol=1e-4)
        return
    with pytest.raises(PackageError) as caught:
        load_package(package)
    assert caught.value.message.startswith(f"{package} needs an NVIDIA GPU: ") and "\n" not in caught.value.message
    for command in ([str(LAMINA), "run"], [sys.executable, str(runner_path())]):
        proc = subprocess.run([*command, str(package), "--fill", "random"], capture_output=True, text=True, timeout=600)
        assert _refusal(proc, hint=False).startswith(f"error: {package} needs an NVIDIA GPU: ")


# ---------------------------------------------------------------------------------------------
# damaged device plans: refused in one line, before any device is opened


def _rewrite(src: Path, dst: Path, *, plan=None, manifest=None, kernel=None) -> Path:
    """A copy of package `src` with plan.json, the manifest, or the first kernel's JSON member
    edited (functions of the parsed JSON), and the manifest's hashes made to match again (to test
    the checks after the hashes)."""
    members = _members(src)
    if plan is not None:
        members["plan.json"] = json.dumps(plan(json.loads(members["plan.json"]))).encode()
    if kernel is not None:
        name = json.loads(members["plan.json"])["kernels"][0]["member"]
        members[name] = json.dumps(kernel(json.loads(members[name]))).encode()
    meta = json.loads(members.pop("manifest.json"))
    meta["members"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items()}
    if manifest is not None:
        meta = manifest(meta)
    with tarfile.open(dst, "w") as tar:
        for name, data in [("manifest.json", json.dumps(meta).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dst


def _set(d, keys: list, value):
    """`d` with d[k0][k1]... = value (a key "first": the first element of a list)."""
    inner = d
    for k in keys[:-1]:
        inner = inner[0] if k == "first" else inner[k]
    inner[keys[-1]] = value
    return d


def _first_launch(key, value):
    return lambda k: _set(k, ["launches", "first", key], value)


DAMAGE = {
    "param-out-of-range": (dict(kernel=_first_launch("args", [["param", 99]])), "reads argument #99; its call passes"),
    "scratch-out-of-range": (dict(kernel=_first_launch("args", [["scratch", 0]])), r"argument \['scratch', 0\]"),
    "unknown-argument-kind": (dict(kernel=_first_launch("args", [["pointer", 0]])), r"argument \['pointer', 0\]"),
    "huge-scratch": (dict(kernel=lambda k: _set(k, ["scratch_bytes"], [1 << 40])), "asks for scratch buffers"),
    "negative-scratch": (dict(kernel=lambda k: _set(k, ["scratch_bytes"], [-1])), "asks for scratch buffers"),
    "undefined-function": (dict(kernel=_first_launch("function", "not_in_the_source")),
                           "launches 'not_in_the_source', which its source does not define"),
    "function-not-a-name": (dict(kernel=_first_launch("function", "main(); evil")), "which its source does not define"),
    "block-too-large": (dict(kernel=_first_launch("block", [2048, 1, 1])), r"block \[2048, 1, 1\]"),
    "empty-grid": (dict(kernel=_first_launch("grid", [0, 1, 1])), r"on grid \[0, 1, 1\]"),
    "no-launches": (dict(kernel=lambda k: _set(k, ["launches"], [])), "has no launches"),
    "no-source": (dict(plan=lambda p: (p["kernels"][0].pop("source"), p)[1]), "names no source"),
    "source-not-a-member": (dict(plan=lambda p: _set(p, ["kernels", "first", "source"], "kernels/x.cl")),
                            "its source 'kernels/x.cl' is not a .cl member"),
    "source-of-another-kind": (dict(plan=lambda p: _set(p, ["kernels", "first", "source"], "plan.json")),
                               "is not a .cl member"),
    "cpu-kernel-in-a-gpu-package": (dict(plan=lambda p: _set(p, ["kernels", "first", "format"], "shared-library")),
                                    "of format 'shared-library' in a GPU package"),
    "other-language": (dict(plan=lambda p: _set(p, ["kernels", "first", "language"], "cuda")),
                       "is 'cuda' code in a opencl package"),
    "unknown-device": (dict(plan=lambda p: _set(p, ["device", "language"], "metal")), "device language 'metal'"),
    "misaligned-arena-slice": (dict(plan=lambda p: _set(p, ["outputs", "first", "from", "offset"], 64)),
                               "arena slice at 64 is not aligned to 512 bytes"),
    "manifest-says-cuda": (dict(manifest=lambda m: _set(m, ["target", "device"], "cuda")),
                           "the manifest's target says device 'cuda', the plan 'opencl'"),
    "manifest-says-cpu": (dict(manifest=lambda m: (m["target"].pop("device"), m)[1]),
                          "the manifest's target says device None"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_device_plan_is_refused_in_one_line(case, small, tmp_path):
    _, package = small
    edits, message = DAMAGE[case]
    bad = _rewrite(package, tmp_path / "bad.tar", **edits)
    with pytest.raises(PackageError, match=message) as caught:
        inspect_package(bad)
    error = caught.value
    assert isinstance(error, LaminaError) and "\n" not in error.message and str(bad) in error.message
    assert "plan.json is malformed" in error.message and error.hint
    with pytest.raises(PackageError, match=message):
        load_package(bad)


@pytest.mark.parametrize("suffix", [".json", ".cl"])
def test_an_altered_kernel_member_fails_its_hash(suffix, small, tmp_path):
    """The manifest's hashes cover a GPU kernel's launch configuration and its code, as a CPU
    kernel's library."""
    _, package = small
    members = _members(package)
    name = next(n for n in members if n.startswith("kernels/") and n.endswith(suffix))
    data = bytearray(members[name])
    data[len(data) // 2] ^= 0x01
    members[name] = bytes(data)
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        for member, value in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(value)
            tar.addfile(info, io.BytesIO(value))
    with pytest.raises(PackageError, match=f"member '{re.escape(name)}' does not match its sha256"):
        load_package(bad)
