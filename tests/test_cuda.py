"""The CUDA target past TVM: lamina's kernels compile to cubins within the GPU's limits
(lowering/cuda_compile.py), and the CUDA runtime (runtime/cuda.py) says plainly when there is no
GPU, and runs a plan on one.

What needs what: compiling needs a CUDA compiler (NVRTC or nvcc from PyPI, or a toolkit's nvcc;
the tests skip, naming it, without one); running needs an NVIDIA GPU (skipped here with the
runtime's own reason). The runtime's argument passing, buffers and arena are checked here too,
on a stand-in driver that keeps "device" memory on the host and runs a Python kernel.

Compiling one kernel takes ~0.3-0.5 s, so the default run compiles one resnet18 kernel of each
op kind; LAMINA_THOROUGH=1 (or HYPOTHESIS_PROFILE=thorough) compiles all of resnet18 at -O3.
"""

from __future__ import annotations

import ctypes
import os
import re

import numpy as np
import pytest

import lamina
from lamina.compiler.location import kernel_names
from lamina.compiler.opdef import ConstantLike
from lamina.compiler.passes.presets import pipeline_for
from lamina.lowering import cuda_compile as cc
from lamina.lowering import targets
from lamina.lowering.build import BuildError, schedule_op
from lamina.lowering.device_build import build_device_kernel
from lamina.runtime import cuda
from lamina.runtime.device_plan import DevicePlan, Launch
from lamina.runtime.interpreter import Interpreter

CUDA = targets.get("cuda")
from budget import THOROUGH  # noqa: E402
RESNET_KINDS = ["nn.fused", "nn.conv2d", "nn.max_pool2d", "nn.global_avg_pool", "nn.gemm", "nn.reshape"]

TEXT_OPS = {
    "add": """func.func @main(%x: tensor<8x64x56xf32>, %b: tensor<64x1xf32>) -> tensor<8x64x56xf32> {
  %s = nn.add %x, %b : (tensor<8x64x56xf32>, tensor<64x1xf32>) -> tensor<8x64x56xf32>
  func.return %s : tensor<8x64x56xf32>
}""",
    "reduce_sum": """func.func @main(%x: tensor<32x1000xf32>) -> tensor<32xf32> {
  %s = nn.reduce_sum %x attributes {axes = array<i64: 1>, keepdims = 0 : i64} : (tensor<32x1000xf32>) -> tensor<32xf32>
  func.return %s : tensor<32xf32>
}""",
    "conv2d": """func.func @main(%x: tensor<1x8x14x14xf32>, %w: tensor<16x8x3x3xf32>) -> tensor<1x16x7x7xf32> {
  %y = nn.conv2d %x, %w attributes {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x8x14x14xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x7x7xf32>
  func.return %y : tensor<1x16x7x7xf32>
}""",
    "add_f16": """func.func @main(%x: tensor<1000xf16>, %y: tensor<1000xf16>) -> tensor<1000xf16> {
  %s = nn.add %x, %y : (tensor<1000xf16>, tensor<1000xf16>) -> tensor<1000xf16>
  func.return %s : tensor<1000xf16>
}""",
}


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))


def compiler_or_skip() -> cc.CudaCompiler:
    try:
        return cc.find_compiler()
    except BuildError as e:
        pytest.skip(f"{e.message}; {e.hint}")


def text_op(name: str):
    module = lamina.parse(TEXT_OPS[name])
    (op,) = [o for o in module.walk() if o.name.startswith("nn.")]
    return op


def plan_of(op, name: str) -> DevicePlan:
    scheduled = schedule_op(op, CUDA, name)
    return build_device_kernel(scheduled.scheduled, CUDA, scheduled.name)


@pytest.fixture(scope="module")
def resnet(zoo):
    """resnet18 at -O3 (the session's zoo, conftest `zoo`): its kernels' ops (as the executor
    picks them) with their names, and the values of its constants."""
    module = lamina.load_onnx(str(zoo / "resnet18.onnx"))
    lamina.run_pipeline(module, pipeline_for(3, ""))
    (fn,) = [op for op in module.walk() if op.name == "func.func"]
    constants = {op.results[0]: np.asarray(op.interpret()) for op in fn.entry if op.has_trait(ConstantLike)}
    ops = [op for op in fn.entry if op.name != "func.return" and not op.has_trait(ConstantLike)]
    return list(zip(ops, kernel_names(ops))), constants


def assert_compiled(plan: DevicePlan, compiled: DevicePlan) -> None:
    assert compiled.arch == "sm_90"
    assert compiled.binary[:4] == b"\x7fELF"  # a cubin is an ELF file
    assert ".entry" in compiled.ptx and all(f in compiled.ptx for f in plan.functions)
    assert set(compiled.resources) == set(plan.functions)
    for launch in compiled.launches:
        res = compiled.resources[launch.function]
        assert res["registers"] > 0
        assert launch.threads_per_block <= min(res["max_threads"], CUDA.max_threads_per_block)
        assert res["registers"] * launch.threads_per_block <= cc.REGISTERS_PER_SM
        assert res["shared_bytes"] + launch.dynamic_shared_bytes <= CUDA.max_shared_memory_per_block


# ---------------------------------------------------------------------------------------------
# (a) real kernels compile to cubins within the limits

@pytest.mark.parametrize("name", sorted(TEXT_OPS))
def test_a_text_op_compiles_to_a_cubin_within_limits(name):
    compiler = compiler_or_skip()
    plan = plan_of(text_op(name), name)
    compiled = cc.compile_plan(plan, CUDA, name, compiler=compiler)
    assert_compiled(plan, compiled)
    assert compiled.source == plan.source and compiled.launches == plan.launches
    assert DevicePlan.from_json(compiled.to_json()) == compiled  # the cubin survives the kernel cache's JSON


def test_a_reduction_reports_its_shared_memory():
    compiler = compiler_or_skip()
    compiled = cc.compile_plan(plan_of(text_op("reduce_sum"), "rowsum"), CUDA, "rowsum", compiler=compiler)
    assert compiled.resources["main_kernel"]["shared_bytes"] > 0


@pytest.mark.parametrize("kind", RESNET_KINDS)
def test_a_resnet18_kernel_compiles_to_a_cubin_within_limits(resnet, kind):
    compiler = compiler_or_skip()
    kernels, _ = resnet
    op, name = next((op, name) for op, name in kernels if op.name == kind)
    plan = plan_of(op, name)
    assert_compiled(plan, cc.compile_plan(plan, CUDA, name, compiler=compiler))


@pytest.mark.skipif(not THOROUGH, reason="every resnet18 kernel: LAMINA_THOROUGH=1 (one of each kind runs by default)")
def test_every_resnet18_kernel_compiles_to_a_cubin_within_limits(resnet):
    compiler = compiler_or_skip()
    kernels, _ = resnet
    assert len(kernels) > 20
    for op, name in kernels:
        plan = plan_of(op, name)
        assert_compiled(plan, cc.compile_plan(plan, CUDA, name, compiler=compiler))


def test_the_compiler_is_described_in_one_line():
    line = cc.describe_compiler()
    assert "\n" not in line
    assert line.startswith(("NVRTC ", "nvcc ", "none: pip install"))


def test_no_compiler_is_a_build_error_with_a_hint(monkeypatch):
    monkeypatch.setenv("LAMINA_CUDA_COMPILER", "/nonexistent/bin/nvcc")
    with pytest.raises(BuildError, match="no CUDA compiler found") as e:
        cc.find_compiler()
    assert "lamina[cuda]" in e.value.hint
    assert cc.describe_compiler() == "none: pip install 'lamina[cuda]'"


# ---------------------------------------------------------------------------------------------
# (b) a kernel over a limit is refused, naming it

BIG_SHARED = r"""
extern "C" __global__ void __launch_bounds__(256) big_shared(float* __restrict__ a) {
  __shared__ float tile[16384];
  tile[threadIdx.x * 64] = a[threadIdx.x];
  __syncthreads();
  a[threadIdx.x] = tile[(255 - threadIdx.x) * 64 + 1];
}
"""

SOME_SHARED = r"""
extern "C" __global__ void __launch_bounds__(256) some_shared(float* __restrict__ a) {
  __shared__ float tile[10240];
  extern __shared__ float more[];
  tile[threadIdx.x * 40] = a[threadIdx.x];
  more[threadIdx.x] = a[threadIdx.x];
  __syncthreads();
  a[threadIdx.x] = tile[(255 - threadIdx.x) * 40] + more[255 - threadIdx.x];
}
"""

COPY = r"""
extern "C" __global__ void copy(float* __restrict__ a, float* __restrict__ b) {
  b[blockIdx.x * blockDim.x + threadIdx.x] = a[blockIdx.x * blockDim.x + threadIdx.x];
}
"""

# 128 values live per thread: ptxas gives it far more than the 64 registers a thread of a
# 1024-thread block can have (no __launch_bounds__ tells it to keep under)
MANY_REGISTERS = r"""
extern "C" __global__ void many_registers(float* __restrict__ a) {
  float v[128];
  const float* p = a + (blockIdx.x * blockDim.x + threadIdx.x) * 128;
#pragma unroll
  for (int i = 0; i < 128; ++i) v[i] = p[i];
  float s = 0.0f;
#pragma unroll
  for (int i = 0; i < 128; ++i) s += v[i] * v[127 - i] + v[(i * 37) % 128];
#pragma unroll
  for (int i = 0; i < 128; ++i) a[(blockIdx.x * blockDim.x + threadIdx.x) * 128 + i] = v[i] * s;
}
"""


def hand_written(source: str, function: str, block: int, args=(("param", 0),), dynamic_shared: int = 0) -> DevicePlan:
    return DevicePlan("cuda", source, [Launch(function, tuple(args), (4, 1, 1), (block, 1, 1), dynamic_shared)])


LIMITS = {  # case: (plan, the error it gives)
    "64 KiB of static shared memory": (
        hand_written(BIG_SHARED, "big_shared", 256),
        r"@big: big_shared uses 65536 bytes of static shared memory per block, over the 49152"),
    "static + dynamic shared memory": (
        hand_written(SOME_SHARED, "some_shared", 256, dynamic_shared=16384),
        r"@big: some_shared uses 57344 bytes of shared memory per block, over cuda's limit of 49152"),
    "2048 threads": (
        hand_written(COPY, "copy", 2048, (("param", 0), ("param", 1))),
        r"@big: copy runs 2048 threads per block, over cuda's limit of 1024"),
    "registers x threads": (
        hand_written(MANY_REGISTERS, "many_registers", 1024),
        r"@big: many_registers needs \d+ registers per thread x 1024 threads per block, over the 65536"),
}


@pytest.mark.parametrize("case", sorted(LIMITS))
def test_a_kernel_over_a_limit_is_a_build_error_naming_it(case):
    compiler = compiler_or_skip()
    plan, message = LIMITS[case]
    with pytest.raises(BuildError, match=message) as e:
        cc.compile_plan(plan, CUDA, "big", compiler=compiler)
    assert e.value.hint


def test_a_launch_over_its_launch_bounds_is_refused():
    compiler = compiler_or_skip()
    source = 'extern "C" __global__ void __launch_bounds__(256) bounded(float* a) { a[threadIdx.x] = 1.0f; }'
    message = r"bounded is launched with 512 threads per block, over its __launch_bounds__\(256\)"
    with pytest.raises(BuildError, match=message):
        cc.compile_plan(hand_written(source, "bounded", 512), CUDA, "big", compiler=compiler)


def test_source_the_compiler_refuses_is_a_build_error_with_its_first_error():
    compiler = compiler_or_skip()
    plan = hand_written('extern "C" __global__ void broken(float* a) { a[0] = undeclared; }', "broken", 32)
    with pytest.raises(BuildError, match=r"kernel @broken: .* refused its CUDA source: .*undeclared"):
        cc.compile_plan(plan, CUDA, "broken", compiler=compiler)


def test_only_cuda_plans_compile():
    plan = DevicePlan("opencl", "__kernel void k() {}", [Launch("k", (), (1, 1, 1), (1, 1, 1))])
    with pytest.raises(BuildError, match="opencl code"):
        cc.compile_plan(plan, CUDA, "k")


# the resource lines of ptxas -v as NVRTC (with a `ptxas .` prefix) and nvcc write them, and as
# CUDA 11's ptxas did (no barriers; smem and cmem on the same line)
PTXAS_LOGS = {
    "nvrtc": """ptxas info    : Compiling entry function 'k' for 'sm_90'
ptxas info    : Function properties for k
ptxas         .     16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 40 registers, used 1 barriers, 96 bytes smem
""",
    "nvcc": """ptxas info    : Compiling entry function 'k' for 'sm_90'
ptxas info    : Function properties for k
    16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 40 registers, used 1 barriers, 96 bytes smem
""",
    "cuda 11": """ptxas info    : Compiling entry function 'k' for 'sm_80'
ptxas info    : Function properties for k
    16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 40 registers, 96 bytes smem, 360 bytes cmem[0]
""",
}


def test_a_called_device_function_s_lines_are_not_the_kernel_s():
    log = """ptxas info    : Compiling entry function 'k' for 'sm_90'
ptxas info    : Function properties for k
    32 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 18 registers, used 0 barriers, 32 bytes cumulative stack size
ptxas info    : Function properties for _Z6helperPfi
    8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads
"""
    source = 'extern "C" __global__ void __launch_bounds__(128) k(float* a) {}'
    assert cc._resources(log, source, ["k"], "k") == {"k": {"registers": 18, "shared_bytes": 0, "local_bytes": 32,
                                                            "spill_stores": 0, "spill_loads": 0, "max_threads": 128}}


def test_a_function_the_compiler_does_not_report_is_a_build_error():
    with pytest.raises(BuildError, match="reported no resources for k2"):
        cc._resources(PTXAS_LOGS["nvcc"], "", ["k", "k2"], "two")


@pytest.mark.parametrize("style", sorted(PTXAS_LOGS))
def test_ptxas_resource_lines_are_read(style):
    source = 'extern "C" __global__ void __launch_bounds__(128) k(float* a) {}'
    resources = cc._resources(PTXAS_LOGS[style], source, ["k"], "k")
    assert resources == {"k": {"registers": 40, "shared_bytes": 96, "local_bytes": 16, "spill_stores": 8,
                               "spill_loads": 4, "max_threads": 128}}


def test_max_threads_counts_registers_by_the_warp():
    assert cc.max_threads(32) == 2048           # 1024 registers a warp: 64 warps fit 65536
    assert cc.max_threads(32, 256) == 256       # the launch bound is lower
    assert cc.max_threads(168) == 384           # 5376 a warp: 12 warps
    assert cc.max_threads(255) == 256           # 8160 -> 8192 a warp: 8 warps


# ---------------------------------------------------------------------------------------------
# (c) without a GPU, the runtime says so in one line

@pytest.mark.skipif(cuda.missing_reason() is None, reason="a GPU is here: the no-GPU path cannot be seen")
def test_without_a_gpu_the_runtime_says_why_in_one_line():
    reason = cuda.missing_reason()
    assert "\n" not in reason and reason
    assert reason.startswith("this needs an NVIDIA GPU") or reason == cuda.NO_BINDINGS
    with pytest.raises(cuda.CudaError, match="^" + re.escape(reason) + "$"):
        cuda.CudaDevice()
    plan = hand_written(COPY, "copy", 32, (("param", 0), ("param", 1)))
    with pytest.raises(cuda.CudaError, match="^" + re.escape(reason) + "$"):
        cuda.CudaKernel(plan)
    from lamina.runtime.device_executor import device_for, kernel_for

    with pytest.raises(cuda.CudaError):
        device_for("cuda")
    with pytest.raises(cuda.CudaError):
        kernel_for(plan, None)


def test_the_runtime_imports_neither_tvm_nor_the_compiler():
    import subprocess
    import sys

    code = ("import sys, importlib.util as u; s = u.spec_from_file_location('cuda_rt', sys.argv[1]); "
            "m = u.module_from_spec(s); s.loader.exec_module(m); "
            "print(sorted(x for x in sys.modules if x.split('.')[0] in ('tvm', 'onnx', 'lark', 'lamina')))")
    out = subprocess.run([sys.executable, "-c", code, cuda.__file__], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# the runtime's buffers, arena and argument passing, on a stand-in driver

class HostDriver:
    """The driver calls CudaDevice makes (runtime/cuda.py's `_Bindings`), on host memory: a
    launch reads its arguments back through the driver's array of pointers, as the GPU would,
    and runs a Python stand-in of the function on them."""

    name, arch, driver_version = "host stand-in", "sm_90", 13000

    def __init__(self, functions: dict):
        self.functions = functions  # name -> (parameter C types, python function of the values)
        self.memory: dict = {}
        self.launches: list = []
        self.freed: list = []

    def make_current(self):
        pass

    def alloc(self, nbytes):
        block = np.zeros(nbytes + 256, np.uint8)
        ptr = (block.ctypes.data + 255) // 256 * 256
        self.memory[ptr] = block
        return ptr

    def free(self, ptr):
        self.freed.append(ptr)

    def htod(self, ptr, host, nbytes):
        ctypes.memmove(ptr, host, nbytes)

    def dtoh(self, host, ptr, nbytes):
        ctypes.memmove(host, ptr, nbytes)

    def load_module(self, image):
        return ("module", bytes(image))

    def function(self, module, name):
        return name

    def function_max_threads(self, function):
        return 1024

    def launch(self, function, grid, block, shared, params):
        types, run = self.functions[function]
        pointers = (ctypes.c_void_p * len(types)).from_address(params)
        values = [ctypes.cast(p, ctypes.POINTER(t)).contents.value for p, t in zip(pointers, types)]
        self.launches.append((function, grid, block, shared, values))
        run(*values)

    def synchronize(self):
        pass


def host_array(ptr: int, n: int, dtype=np.float32) -> np.ndarray:
    return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(np.ctypeslib.as_ctypes_type(dtype))), (n,))


SCALE_SOURCE = r"""
extern "C" __global__ void __launch_bounds__(4) scale(float* __restrict__ tmp, float* __restrict__ x, int n,
                                                      int64_t k);
extern "C" __global__ void __launch_bounds__(4) scale(float* __restrict__ tmp, float* __restrict__ x, int n,
                                                      int64_t k) { }
extern "C" __global__ void __launch_bounds__(4) scale_1(float* __restrict__ y, float* __restrict__ tmp) { }
"""


def test_the_runtime_passes_buffers_scratch_and_integers_to_each_launch():
    def scale(tmp, x, n, k):
        host_array(tmp, n)[:] = host_array(x, n) * k

    def scale_1(y, tmp):
        host_array(y, 8)[:] = host_array(tmp, 8) + 1

    driver = HostDriver({"scale": ((ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64), scale),
                         "scale_1": ((ctypes.c_void_p, ctypes.c_void_p), scale_1)})
    device = cuda.CudaDevice(backend=driver)
    plan = DevicePlan("cuda", SCALE_SOURCE, [
        Launch("scale", (("scratch", 0), ("param", 0), ("int", 8), ("int", -3)), (2, 1, 1), (4, 1, 1)),
        Launch("scale_1", (("param", 1), ("scratch", 0)), (2, 1, 1), (4, 1, 1), 128),
    ], scratch_bytes=[32], arch="sm_90", binary=b"\x7fELF stand-in")
    kernel = cuda.CudaKernel(plan, device)
    arena = device.arena(4096)
    x, y = arena.view(0, 32), arena.view(256, 32)
    device.write(x, np.arange(8, dtype=np.float32))
    kernel.launch([x, y])
    kernel.launch([x, y])  # the packed arguments are made once and reused
    device.finish()
    np.testing.assert_array_equal(device.read(y, (8,), np.float32), np.arange(8) * -3 + 1)
    (_, grid, block, shared, values), second = driver.launches[0], driver.launches[1]
    assert (grid, block, shared) == ((2, 1, 1), (4, 1, 1), 0) and driver.launches[1][3] == 128
    assert values == [kernel._scratch[0].ptr, x.ptr, 8, -3] and second[4] == [y.ptr, kernel._scratch[0].ptr]
    assert x.ptr == arena.buffer.ptr and y.ptr == arena.buffer.ptr + 256


def test_the_runtime_checks_buffers_and_the_arena():
    device = cuda.CudaDevice(backend=HostDriver({}))
    arena = device.arena(1024)
    with pytest.raises(cuda.CudaError, match="not aligned to the device's 256 bytes"):
        arena.view(64, 16)
    with pytest.raises(cuda.CudaError, match="runs past the arena"):
        arena.view(768, 512)
    small = device.upload(np.ones(4, np.float32))
    with pytest.raises(cuda.CudaError, match="do not fit"):
        device.write(small, np.ones(8, np.float32))
    np.testing.assert_array_equal(device.read(small, (4,), np.float32), np.ones(4))
    assert device.read(small, (0,), np.float32).shape == (0,)
    with pytest.raises(cuda.CudaError, match="cannot run a opencl kernel"):
        cuda.CudaKernel(DevicePlan("opencl", "", []), device)
    with pytest.raises(cuda.CudaError, match="no cubin or PTX"):
        cuda.CudaKernel(hand_written(COPY, "copy", 32, (("param", 0), ("param", 1))), device)


def test_a_launch_that_disagrees_with_the_signature_is_refused():
    device = cuda.CudaDevice(backend=HostDriver({}))
    plan = hand_written(COPY, "copy", 32)  # copy takes two pointers; the launch passes one
    plan.binary = b"\x7fELF stand-in"
    with pytest.raises(cuda.CudaError, match="copy takes 2 arguments; its launch passes 1"):
        cuda.CudaKernel(plan, device)


def test_the_runtime_reads_the_signatures_of_tvm_s_kernels(resnet):
    """Every launch of real kernels passes what its function's signature takes: a device address
    for each buffer, TVM's int parameters as int32."""
    kernels, _ = resnet
    ops = [text_op(name) for name in sorted(TEXT_OPS)] + [next(op for op, _ in kernels if op.name == kind)
                                                            for kind in RESNET_KINDS]
    for op in ops:
        plan = plan_of(op, "k")
        plan.binary = b"\x7fELF stand-in"
        driver = HostDriver({f: ((), lambda *values: None) for f in plan.functions})
        device = cuda.CudaDevice(backend=driver)
        kernel = cuda.CudaKernel(plan, device)
        buffers = [device.buffer(64) for _ in range(len(op.operands) + len(op.results))]
        packed = kernel._packed(buffers)
        for launch, types, (slots, _) in zip(plan.launches, kernel._types, packed):
            assert len(types) == len(launch.args)
            for (kind, value), t, slot in zip(launch.args, types, slots):
                if kind == "int":
                    assert t == "i32" and slot.view(np.int32)[0] == value
                else:
                    assert t == "ptr"
                    assert slot == (buffers[value] if kind == "param" else kernel._scratch[value]).ptr


# ---------------------------------------------------------------------------------------------
# (d) on a GPU: compiled kernels against numpy

def gpu_or_skip():
    reason = cuda.missing_reason()
    if reason is not None:
        pytest.skip(reason)


def run_on_gpu(op, inputs, compiler):
    """`op` built for cuda as the executor builds it, its plan compiled, run on the GPU."""
    from lamina.lowering.build import build_op

    kernel = build_op(op, CUDA).kernel
    kernel.plan = cc.compile_plan(kernel.plan, CUDA, "gpu", compiler=compiler)
    shapes = [tuple(r.type.shape) for r in op.results]
    dtypes = [r.type.element_type.numpy_dtype for r in op.results]
    return kernel.run(inputs, shapes, dtypes)


@pytest.mark.parametrize("name", sorted(TEXT_OPS))
def test_a_compiled_kernel_on_the_gpu_matches_numpy(name):
    gpu_or_skip()
    compiler = compiler_or_skip()
    op = text_op(name)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(v.type.shape).astype(v.type.element_type.numpy_dtype) for v in op.operands]
    (out,) = run_on_gpu(op, inputs, compiler)
    (expected,) = Interpreter.run_op(op, inputs)
    tol = 1e-2 if out.dtype == np.float16 else 1e-4
    np.testing.assert_allclose(out.astype(np.float32), np.asarray(expected, np.float32), rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", RESNET_KINDS)
def test_a_resnet18_kernel_on_the_gpu_matches_numpy(resnet, kind):
    gpu_or_skip()
    compiler = compiler_or_skip()
    kernels, constants = resnet
    op = next(op for op, _ in kernels if op.name == kind)
    rng = np.random.default_rng(0)
    inputs = [constants[v] if v in constants else rng.standard_normal(v.type.shape).astype(np.float32)
              for v in op.operands]
    (out,) = run_on_gpu(op, inputs, compiler)
    (expected,) = Interpreter.run_op(op, inputs)
    np.testing.assert_allclose(out, expected, rtol=1e-3, atol=1e-3)
