"""Never lose the user's file (compiler/files.py `write_output`): every command that writes a file
refuses to write over its inputs under any name, writes a temporary file and renames it into
place, writes `-` and /dev/stdout to the stream, and replaces a symlinked output's target.

The rules are checked on `write_output` itself; each command with `-o` (opt, import, compile to
.mlir and to .tar) is checked as a user runs it, a subprocess of the venv's `lamina`.
"""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lamina.compiler.files import OutputError, check_output, write_output

LAMINA = Path(sys.executable).parent / "lamina"

GOOD = """\
func.func @f(%x: i32) -> i32 {
  %zero = arith.constant 0 : i32
  %0 = arith.addi %x, %zero : i32
  func.return %0 : i32
}
"""


def lamina(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(LAMINA), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def assert_refused(proc: subprocess.CompletedProcess, fragment: str = "refusing to write") -> None:
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: ") and fragment in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- write_output ---------------------------------------------------------------------------------


def test_a_new_file_gets_the_umask_mode_and_no_temporary_file_stays(tmp_path):
    out = tmp_path / "out.mlir"
    old = os.umask(0o027)
    try:
        write_output(out, "text\n")
    finally:
        os.umask(old)
    assert out.read_text() == "text\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert files_in(tmp_path) == ["out.mlir"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "interrupted"])
def test_a_failed_write_leaves_the_old_file_whole(tmp_path, failure):
    out = tmp_path / "out.tar"
    out.write_bytes(b"the old package")

    def half_then_fail(f):
        f.write(b"half of the new")
        raise failure

    with pytest.raises(OutputError if isinstance(failure, OSError) else KeyboardInterrupt) as caught:
        write_output(out, half_then_fail)
    if isinstance(failure, OSError):
        assert caught.value.message == f"cannot write {out} (No space left on device)"
    assert out.read_bytes() == b"the old package"
    assert files_in(tmp_path) == ["out.tar"]


def test_inputs_are_refused_under_every_name(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"onnx")
    (tmp_path / "link.mlir").symlink_to(model)
    os.link(model, tmp_path / "hard.mlir")
    (tmp_path / "sub").mkdir()
    for name in [model, tmp_path / "link.mlir", tmp_path / "hard.mlir", tmp_path / "sub" / ".." / "model.onnx"]:
        with pytest.raises(OutputError, match=f"refusing to write the output over the input file {model}"):
            write_output(name, "mlir", inputs=[model])
    with pytest.raises(OutputError, match="is a folder"):
        check_output(tmp_path / "sub", [model])
    assert model.read_bytes() == b"onnx"
    check_output("-", [model])  # a stream is never an input file


def test_a_symlinked_output_replaces_the_target_and_keeps_its_mode(tmp_path):
    target = tmp_path / "real.mlir"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.mlir"
    link.symlink_to(target.name)
    write_output(link, "new")
    assert link.is_symlink() and os.readlink(link) == "real.mlir"
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert files_in(tmp_path) == ["link.mlir", "real.mlir"]


def test_streams_and_special_files_are_written_in_place(capsys, tmp_path):
    write_output("-", "to stdout\n")
    write_output("/dev/stdout", "again\n")
    assert capsys.readouterr().out == "to stdout\nagain\n"
    write_output("/dev/null", b"nothing")  # a character device: written, not replaced
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# -- each command with -o ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def relu_onnx(tmp_path_factory) -> Path:
    """A one-node ONNX model whose weights live in an external data file (weights.bin)."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    folder = tmp_path_factory.mktemp("relu")
    bias = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(1, 16), "bias")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "bias"], ["s"], name="add"), helper.make_node("Relu", ["s"], ["y"], name="relu")],
        "relu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])], [bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, folder / "relu.onnx", save_as_external_data=True, location="weights.bin",
                    size_threshold=0)
    assert (folder / "weights.bin").exists()
    return folder / "relu.onnx"


@pytest.fixture
def model_copy(relu_onnx, tmp_path) -> Path:
    for name in ("relu.onnx", "weights.bin"):
        (tmp_path / name).write_bytes((relu_onnx.parent / name).read_bytes())
    return tmp_path / "relu.onnx"


def test_opt_refuses_its_input_through_a_link_and_writes_streams(tmp_path):
    source = tmp_path / "f.mlir"
    source.write_text(GOOD)
    (tmp_path / "alias.mlir").symlink_to(source)
    assert_refused(lamina("opt", source, "-o", tmp_path / "alias.mlir"))
    assert source.read_text() == GOOD
    for stream in ("-", "/dev/stdout"):
        proc = lamina("opt", source, "-p", "canonicalize", "-o", stream)
        assert proc.returncode == 0 and "return %x : i32" in proc.stdout, proc.stderr
    assert files_in(tmp_path) == ["alias.mlir", "f.mlir"]


def test_import_never_writes_over_the_model_or_its_external_data(model_copy, tmp_path):
    before = {name: (tmp_path / name).read_bytes() for name in files_in(tmp_path)}
    (tmp_path / "alias.mlir").symlink_to("relu.onnx")
    for out in ("alias.mlir", "weights.bin"):  # (the other spellings: test_inputs_are_refused_under_every_name)
        assert_refused(lamina("import", "relu.onnx", "-o", out, cwd=tmp_path))
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    proc = lamina("import", "relu.onnx", "-o", "-", cwd=tmp_path)
    assert proc.returncode == 0 and "nn.relu" in proc.stdout, proc.stderr
    out = tmp_path / "relu.mlir"
    out.write_text("an old file")
    out.chmod(0o600)
    proc = lamina("import", "relu.onnx", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    assert "nn.relu" in out.read_text() and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert files_in(tmp_path) == ["alias.mlir", "relu.mlir", "relu.onnx", "weights.bin"]


def test_compile_refuses_its_inputs_and_writes_the_ir_to_stdout(model_copy, tmp_path):
    env = {**os.environ, "LAMINA_CACHE_DIR": str(tmp_path / "kernels")}
    before = model_copy.read_bytes()
    (tmp_path / "alias.tar").symlink_to("relu.onnx")
    assert_refused(lamina("compile", "relu.onnx", "-o", "alias.tar", cwd=tmp_path, env=env))  # the package writer
    sched = tmp_path / "sched"
    sched.mkdir()
    (sched / "k.mlir").write_text("// a schedule file\n")
    assert_refused(lamina("compile", "relu.onnx", "--schedules", sched, "-o", sched / "k.mlir", cwd=tmp_path, env=env))
    assert model_copy.read_bytes() == before and (sched / "k.mlir").read_text() == "// a schedule file\n"
    proc = lamina("compile", "relu.onnx", "-o", "-", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("module") and "nn.relu" in proc.stdout
    assert "compiled @main of relu.onnx" in proc.stderr and "compiled" not in proc.stdout
    assert files_in(tmp_path) == ["alias.tar", "kernels", "relu.onnx", "sched", "weights.bin"]
