"""Schedules as files and targets on the command line: `lamina compile --emit-schedules`, applying
them back (`--schedules`), editing one, `--print-tir`, `lamina targets`, packages of every zoo
model, and the aarch64-android cross build."""

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina.lowering import targets
from lamina.lowering.schedules.files import read_schedules, write_schedules
from lamina.runtime.package import load_package, write_package
from lamina.runtime.benchmark import zoo_models

LAMINA = Path(sys.executable).parent / "lamina"


MODELS = zoo_models()


def cli(*args, cwd=None):
    return subprocess.run([str(LAMINA), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def _inputs(model, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(p.type.shape)).astype(p.type.element_type.numpy_dtype)
            if np.dtype(p.type.element_type.numpy_dtype).kind == "f"
            else rng.integers(0, 3, tuple(p.type.shape)).astype(p.type.element_type.numpy_dtype)
            for p in model.params]


@pytest.mark.parametrize("name", MODELS)
def test_emitted_schedules_apply_back_to_identical_kernels(zoo, tmp_path, name):
    model = lamina.compile(str(zoo / f"{name}.onnx"))
    written = write_schedules(model.kernels, tmp_path / "s")
    assert len(written) == sum(k.scheduled is not None for k in model.kernels)
    again = lamina.compile(str(zoo / f"{name}.onnx"), schedules=read_schedules(tmp_path / "s"))
    assert again.unused_schedules == []
    assert [k.script for k in again.kernels] == [k.script for k in model.kernels]


@pytest.mark.parametrize("name", MODELS)
def test_the_package_of_every_zoo_model_matches_onnxruntime(zoo, tmp_path, name):
    import onnxruntime as ort

    path = zoo / f"{name}.onnx"
    model = lamina.compile(str(path))
    write_package(model, tmp_path / "m.tar", inputs=[path])
    packaged = load_package(tmp_path / "m.tar")
    inputs = _inputs(model)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: x for i, x in zip(session.get_inputs(), inputs)}
    for got, want, direct in zip(packaged(*inputs), session.run(None, feeds), model(*inputs)):
        np.testing.assert_array_equal(got, direct)
        scale = max(1.0, float(np.max(np.abs(want))))
        assert np.max(np.abs(got.astype(np.float64) - want)) <= 1e-4 * scale


def _conv_kernel_file(directory: Path) -> Path:
    return directory / "conv1+bn1+relu.mlir"


def test_an_edited_split_changes_the_kernel_and_keeps_the_output(zoo, tmp_path):
    path = str(zoo / "resnet18.onnx")
    model = lamina.compile(path)
    write_schedules(model.kernels, tmp_path / "s")
    f = _conv_kernel_file(tmp_path / "s")
    text = f.read_text()
    assert "sched.knob wb 14" in text and "sched.knob pack_ob 32" in text
    f.write_text(text.replace("sched.knob wb 14", "sched.knob wb 8").replace("sched.knob pack_ob 32",
                                                                           "sched.knob pack_ob 16"))
    edited = lamina.compile(path, schedules=read_schedules(tmp_path / "s"))
    first = {k.name: k.script for k in model.kernels}
    changed = [k.name for k in edited.kernels if k.script != first[k.name]]
    assert changed == ["conv1+bn1+relu"]
    script = edited.kernels[0].script
    assert "(4, 3, 7, 7, 16)" in script  # the packed weight follows pack_ob
    x = _inputs(model)
    np.testing.assert_allclose(edited(*x)[0], model(*x)[0], rtol=1e-4, atol=1e-4)


def test_cli_emit_apply_print_tir_and_warnings(zoo, tmp_path):
    model = zoo / "mlp.onnx"
    out = cli("compile", model, "--emit-schedules", tmp_path / "s")
    assert out.returncode == 0, out.stderr
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert files == ["fc1.matmul+fc1.add+relu1.mlir", "fc2.matmul+fc2.add+relu2.mlir", "fc3.matmul+fc3.add.mlir",
                     "softmax.mlir"]
    text = (tmp_path / "s" / "softmax.mlir").read_text()
    assert text.startswith("// lamina schedule of kernel softmax, for target llvm")
    assert "// compute (TE, before scheduling)" in text and 'sched.schedule @softmax attributes {target = "llvm"}' in text
    # emitting again is fine (same text); over an edited file it refuses and leaves it
    assert cli("compile", model, "--emit-schedules", tmp_path / "s").returncode == 0
    (tmp_path / "s" / "softmax.mlir").write_text(text + "// my note\n")
    again = cli("compile", model, "--emit-schedules", tmp_path / "s")
    assert again.returncode == 1 and "exists and differs" in again.stderr
    assert (tmp_path / "s" / "softmax.mlir").read_text().endswith("// my note\n")
    # a schedule that names no kernel: a warning, the run goes on
    (tmp_path / "s" / "other.mlir").write_text(text.replace("@softmax", "@nothing_here"))
    run = cli("run", model, "--fill", "random", "--schedules", tmp_path / "s")
    assert run.returncode == 0, run.stderr
    assert "warning:" in run.stderr and "nothing_here" in run.stderr
    tir = cli("compile", model, "--print-tir", "softmax")
    assert tir.returncode == 0 and "scheduled TIR" in tir.stdout and "lowered loop nest" in tir.stdout
    assert "T.vectorized" in tir.stdout  # the schedule's: the MLP's 10-wide softmax runs on one thread
    bad = cli("compile", model, "--print-tir", "nope")
    assert bad.returncode == 1 and "its kernels: fc1.matmul" in bad.stderr


def test_a_broken_schedule_file_is_one_error_naming_the_file(zoo, tmp_path):
    model = zoo / "mlp.onnx"
    assert cli("compile", model, "--emit-schedules", tmp_path / "s").returncode == 0
    f = tmp_path / "s" / "softmax.mlir"
    good = f.read_text()
    f.write_text(good.replace("sched.get_loops", "sched.get_lops", 1))
    out = cli("compile", model, "--schedules", tmp_path / "s")
    assert out.returncode == 1 and f"{f}:" in out.stderr and "Traceback" not in out.stderr
    # a schedule of a kernel of another shape: the extents or names do not fit
    other = (tmp_path / "s" / "fc1.matmul+fc1.add+relu1.mlir").read_text()
    f.write_text(other.replace("@\"fc1.matmul+fc1.add+relu1\"", "@softmax"))
    out = cli("compile", model, "--schedules", tmp_path / "s")
    assert out.returncode == 1 and str(f) in out.stderr and "Traceback" not in out.stderr
    assert len([ln for ln in out.stderr.splitlines() if "error:" in ln]) == 1


def test_output_suffix_targets_and_unknown_target(zoo, tmp_path):
    model = zoo / "mlp.onnx"
    out = cli("compile", model, "-o", tmp_path / "m.txt")
    assert out.returncode == 1 and ".mlir" in out.stderr and ".tar" in out.stderr
    assert not (tmp_path / "m.txt").exists()
    listing = cli("targets")
    assert listing.returncode == 0
    for name in ("llvm", "aarch64-android", "cuda", "opencl", "cuda-on-opencl", "opencl-adreno"):
        assert name in listing.stdout
    assert "threads/block 256" in listing.stdout
    bad = cli("compile", model, "--target", "tpu")
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[0] == ("error: unknown target 'tpu'; known targets: llvm, aarch64-android, "
                                          "cuda, opencl, cuda-on-opencl, opencl-adreno")
    with pytest.raises(lamina.LaminaError, match="known targets"):
        targets.get("tpu")


def test_the_cpu_thread_count_is_a_target_option():
    assert targets.get("llvm", threads=3).threads == 3
    assert targets.get("aarch64-android").cross


AARCH64 = 183  # ELF e_machine


def _elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF"
    return int.from_bytes(data[18:20], "little")


def test_the_aarch64_android_package_holds_aarch64_objects(zoo, tmp_path):
    out = cli("compile", zoo / "mlp.onnx", "--target", "aarch64-android", "-o", tmp_path / "arm.tar")
    assert out.returncode == 0, out.stderr
    machines = []
    with tarfile.open(tmp_path / "arm.tar") as pkg:
        for member in pkg.getmembers():
            if member.name.startswith("kernels/"):
                with tarfile.open(fileobj=pkg.extractfile(member)) as objects:
                    for obj in objects.getmembers():
                        if obj.name.endswith(".o"):
                            machines.append(_elf_machine(objects.extractfile(obj).read(64)))
    assert machines and set(machines) == {AARCH64}
    run = cli("run", tmp_path / "arm.tar", "--fill", "random")
    assert run.returncode == 1 and "runs on that device" in run.stderr


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None,
                    reason="needs Debian's gcc-aarch64-linux-gnu (aarch64-linux-gnu-gcc) to link")
def test_cross_compiler_links_aarch64_shared_libraries(zoo, tmp_path):
    out = cli("compile", zoo / "mlp.onnx", "--target", "aarch64-android", "--cross-compiler",
              "aarch64-linux-gnu-gcc", "-o", tmp_path / "arm.tar")
    assert out.returncode == 0, out.stderr
    with tarfile.open(tmp_path / "arm.tar") as pkg:
        libs = [m for m in pkg.getmembers() if m.name.startswith("kernels/")]
        assert libs and all(m.name.endswith(".so") for m in libs)
        for m in libs:
            data = pkg.extractfile(m).read(64)
            assert _elf_machine(data) == AARCH64 and int.from_bytes(data[16:18], "little") == 3  # ET_DYN
    assert cli("compile", zoo / "mlp.onnx", "--cross-compiler", "gcc").returncode == 1


def test_kernel_experiment_api(direct_convs):
    k = lamina.kernel('''
    func.func @main(%x: tensor<1x16x30x30xf32>) -> tensor<1x32x28x28xf32> {
      %w = nn.constant attributes {value = dense<0.25> : tensor<32x16x3x3xf32>} : () -> tensor<32x16x3x3xf32>
      %y = nn.conv2d %x, %w : (tensor<1x16x30x30xf32>, tensor<32x16x3x3xf32>) -> tensor<1x32x28x28xf32>
      func.return %y : tensor<1x32x28x28xf32>
    }''')
    # 3x3 on 16 channels: 32 x 7 columns (te/conv.py); channel blocks outermost, with the rows
    # parallel, each row summed over all input channels; the window loops not unrolled
    assert k.knobs == {"pack_ob": 32, "wb": 7, "loop_order": 1, "reduction_chunks": 1, "parallel_loops": 3,
                       "unroll_window": 1}
    assert k.check() < 1e-4
    k2 = k.with_knobs(wb=4, pack_ob=8)
    assert k2.knobs == {"pack_ob": 8, "wb": 4, "loop_order": 1, "reduction_chunks": 1, "parallel_loops": 3,
                        "unroll_window": 1}
    assert k2.tir != k.tir and "(4, 16, 3, 3, 8)" in k2.tir
    assert k2.check() < 1e-4
    k3 = k.with_schedule(k.schedule)
    assert k3.tir == k.tir
    k4 = k.with_knobs(pack_ob=12)  # 32 channels in blocks of 12: the last block padded (te/conv.py)
    assert "(3, 16, 3, 3, 12)" in k4.tir and k4.check() < 1e-4
    # a choice is another program, written by the generator: rows outermost, only they parallel
    k5 = k.with_knobs(loop_order=2, parallel_loops=2, wb=4, unroll_window=3)
    assert k5.knobs == {"pack_ob": 32, "wb": 4, "loop_order": 2, "parallel_loops": 2, "unroll_window": 3}
    assert "sched.reorder %b_1, %i_1, %o_o, %j_o" in k5.schedule and "sched.fuse %b_1, %i_1\n" in k5.schedule
    assert k5.check() < 1e-4
    with pytest.raises(lamina.LaminaError, match="choice parallel_loops is one of \\[2, 3\\], not 4"):
        k.with_knobs(parallel_loops=4)
    grouped = lamina.kernel('''
    func.func @main(%x: tensor<1x16x30x30xf32>, %w: tensor<32x8x3x3xf32>) -> tensor<1x32x28x28xf32> {
      %y = nn.conv2d %x, %w attributes {group = 2 : i64} : (tensor<1x16x30x30xf32>, tensor<32x8x3x3xf32>) -> tensor<1x32x28x28xf32>
      func.return %y : tensor<1x32x28x28xf32>
    }''')
    # a block never straddles two groups: 16 channels a group in blocks of 5, each group padded to 20
    padded = grouped.with_knobs(pack_ob=5)
    assert "(8, 8, 3, 3, 5)" in padded.tir and "unpad_groups" in padded.tir and padded.check() < 1e-4
