"""Compiled packages (runtime/package.py, runtime/package_runner.py): a CompiledModel written to
one tar file, loaded back without the compiler, gives the same numbers; a damaged, unsafe or
foreign package is refused with one line naming the file, and reading one writes nothing
outside its own temporary folder."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina.compiler.errors import LaminaError
from lamina.runtime.compare import difference, run_onnxruntime
from lamina.runtime.package import (PackageError, PackageInputError, inspect_package, load_package, runner_path,
                                    write_package)

RUNNER = Path(__file__).resolve().parents[1] / "runtime" / "package_runner.py"


@pytest.fixture(scope="module")
def mlp(zoo):
    """(onnx path, CompiledModel) of the zoo's MLP, compiled once for the module."""
    path = zoo / "mlp.onnx"
    return path, lamina.compile(str(path))


@pytest.fixture(scope="module")
def package(mlp, tmp_path_factory) -> Path:
    path, model = mlp
    out = tmp_path_factory.mktemp("package") / "mlp.tar"
    write_package(model, out, ir_text="// the IR\n", schedules={"kernel0": "// a schedule\n"}, inputs=[path])
    return out


def _x(model, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(p.type.shape).astype(p.type.element_type.numpy_dtype) for p in model.params]


def _members(path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


# ---------------------------------------------------------------------------------------------
# round trip


def test_mlp_package_runs_as_the_compiled_model(mlp, package):
    onnx_path, model = mlp
    packaged = load_package(package)
    inputs = _x(model)
    ours, expected = packaged(*inputs), model(*inputs)
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    reference = run_onnxruntime(str(onnx_path), dict(zip(packaged.input_names, inputs)), threads=1)
    assert difference("probs", ours[0], reference[0], 1e-4, 1e-5).ok
    assert packaged(*_x(model, 1))[0].tolist() == model(*_x(model, 1))[0].tolist()  # a second call


def test_the_model_describes_its_inputs_and_outputs(mlp, package):
    _, model = mlp
    packaged = load_package(package, target="llvm")
    assert packaged.input_names == ["input"] and packaged.input_shapes == [(1, 784)]
    assert packaged.input_dtypes == [np.dtype("float32")]
    assert packaged.output_names == ["probs"] and packaged.output_shapes == [(1, 10)]
    assert packaged.num_kernels == model.num_kernels and packaged.target_name == "llvm"
    assert packaged.threads == int(os.environ["TVM_NUM_THREADS"])


def test_resnet18_package_matches_the_compiled_model_and_onnxruntime(zoo, tmp_path):
    path = zoo / "resnet18.onnx"
    model = lamina.compile(str(path))
    packaged = load_package(write_package(model, tmp_path / "r18.tar", inputs=[path]))
    x = _x(model)
    ours = packaged(*x)
    assert np.array_equal(ours[0], model(*x)[0])
    reference = run_onnxruntime(str(path), {"input": x[0]}, threads=1)
    assert difference("logits", ours[0], reference[0], 1e-4, 1e-5).ok
    manifest, plan = inspect_package(tmp_path / "r18.tar")
    assert len(plan["kernels"]) < len(plan["calls"])  # same-shape layers share one library


def test_outputs_from_the_arena_an_input_and_a_constant(tmp_path):
    text = """module {
  func.func @main(%x: tensor<1x4xf32>, %unused: tensor<2xi64>)
      -> (tensor<1x4xf32>, tensor<1x4xf32>, tensor<2x2xf32>, tensor<1x4xi1>) {
    %w = nn.constant attributes {value = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
    %z = nn.constant attributes {value = dense<0.0> : tensor<1x4xf32>} : () -> tensor<1x4xf32>
    %r = nn.relu %x : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %b = nn.greater %x, %z : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xi1>
    func.return %r, %x, %w, %b : tensor<1x4xf32>, tensor<1x4xf32>, tensor<2x2xf32>, tensor<1x4xi1>
  }
}"""
    model = lamina.compile(lamina.parse(text))
    packaged = load_package(write_package(model, tmp_path / "m.tar", output_names=["a", "b", "c", "d"]))
    x, unused = np.array([[-1, 2, -3, 4]], np.float32), np.zeros(2, np.int64)
    ours = packaged(x, unused)
    for a, b in zip(ours, model(x, unused)):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert packaged.output_names == ["a", "b", "c", "d"] and packaged.input_names == ["x", "unused"]
    kinds = [o["from"]["kind"] for o in inspect_package(tmp_path / "m.tar")[1]["outputs"]]
    assert kinds == ["arena", "input", "constant", "arena"]
    ours[1][0, 0] = 99.0  # outputs are copies
    assert packaged(x, unused)[1][0, 0] == -1.0


def test_wrong_inputs_are_refused_by_name(package):
    packaged = load_package(package)
    with pytest.raises(PackageInputError, match="input input has dtype float64"):
        packaged(np.zeros((1, 784)))
    with pytest.raises(PackageInputError, match=r"shape \[1, 783\]"):
        packaged(np.zeros((1, 783), np.float32))
    with pytest.raises(PackageInputError, match="takes 1 inputs, got 2"):
        packaged(np.zeros((1, 784), np.float32), np.zeros((1, 784), np.float32))


# ---------------------------------------------------------------------------------------------
# the file


def test_the_package_holds_a_manifest_plan_weights_kernels_ir_and_schedules(mlp, package):
    import tvm

    _, model = mlp
    members = _members(package)
    manifest = json.loads(members.pop("manifest.json"))
    assert manifest["kind"] == "lamina-package" and manifest["format"] == 1
    assert manifest["tvm_version"] == tvm.__version__
    assert manifest["target"]["name"] == "llvm" and manifest["target"]["cross"] is False
    assert manifest["threads"] == model.threads
    assert set(manifest["members"]) == set(members)
    for name, data in members.items():
        assert manifest["members"][name] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert members["ir.mlir"] == b"// the IR\n" and members["schedules/kernel0.mlir"] == b"// a schedule\n"
    plan = json.loads(members["plan.json"])
    libraries = {str(k.library) for _, k, _, _ in model.steps}
    assert len(plan["kernels"]) == len(libraries) == sum(n.startswith("kernels/") for n in members)
    assert all(k["format"] == "shared-library" and k["member"].endswith(".so") for k in plan["kernels"])
    assert plan["arena_bytes"] == model.memory_plan.arena_bytes
    offsets = [c["offset"] for c in plan["constants"]]
    assert all(o % 64 == 0 for o in offsets) and len(set(offsets)) == len(offsets)
    assert len(members["weights.bin"]) == max(c["offset"] + c["nbytes"] for c in plan["constants"])


def test_the_same_model_gives_the_same_bytes(mlp, package, tmp_path):
    _, model = mlp
    again = write_package(model, tmp_path / "again.tar", ir_text="// the IR\n",
                          schedules={"kernel0": "// a schedule\n"})
    assert again.read_bytes() == package.read_bytes()


def test_weights_are_mapped_from_the_file_once_and_aligned(package):
    packaged = load_package(package)
    constants = packaged._constants
    assert constants and all(c.ctypes.data % 64 == 0 for c in constants if c.size)
    bases = {id(_base(c)) for c in constants if c.size}
    assert len(bases) == 1  # every constant is a view of the one mapping: no second copy


def _base(a):
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a


# ---------------------------------------------------------------------------------------------
# a lean process


LEAN = """
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("lamina_package_runner", sys.argv[1])
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)
model = runner.load_package(sys.argv[2])
outputs = model(np.load(sys.argv[3]))
np.save(sys.argv[4], outputs[0])
print(json.dumps({m: m in sys.modules for m in ("tvm", "onnx", "lark", "lamina", "ml_dtypes")}))
print(issubclass(runner.PackageError, runner.LaminaError), runner.LaminaError.__name__)
"""


def test_the_runner_loads_a_package_without_tvm_onnx_or_lark(mlp, package, tmp_path):
    _, model = mlp
    x = _x(model)[0]
    np.save(tmp_path / "x.npy", x)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"TMPDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", LEAN, str(runner_path()), str(package), str(tmp_path / "x.npy"),
                           str(tmp_path / "y.npy")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    loaded, base = proc.stdout.splitlines()
    assert json.loads(loaded) == {"tvm": False, "onnx": False, "lark": False, "lamina": False, "ml_dtypes": False}
    assert base == "True LaminaError"
    assert np.array_equal(np.load(tmp_path / "y.npy"), model(x)[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]  # its temp folder is gone


def test_the_runner_command_line(package, tmp_path):
    proc = subprocess.run([sys.executable, str(RUNNER), str(package), "--fill", "random", "--save",
                           str(tmp_path / "out.npz")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "output probs: float32 [1, 10]" in proc.stdout
    assert np.load(tmp_path / "out.npz")["probs"].shape == (1, 10)
    proc = subprocess.run([sys.executable, str(RUNNER), str(tmp_path / "missing.tar")], capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    # --save never over the package (here through a link to it), which stays whole
    link = tmp_path / "link.npz"
    link.symlink_to(package)
    before = package.read_bytes()
    proc = subprocess.run([sys.executable, str(RUNNER), str(package), "--fill", "random", "--save", str(link)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "refusing to write the outputs over the input file" in proc.stderr
    assert package.read_bytes() == before


# ---------------------------------------------------------------------------------------------
# damaged, unsafe and foreign packages


def _rewrite(src: Path, dst: Path, *, drop=(), add=(), replace=None, manifest=None, plan=None, rehash=False) -> Path:
    """A copy of package `src` with members dropped, added ((TarInfo, bytes)), replaced
    ({name: bytes}), the manifest / plan edited (functions of the parsed JSON); `rehash` makes
    the manifest match the new members (to test what comes after the hashes)."""
    members = _members(src)
    for name in drop:
        del members[name]
    members.update(replace or {})
    if plan is not None:
        members["plan.json"] = json.dumps(plan(json.loads(members["plan.json"]))).encode()
    meta = json.loads(members.pop("manifest.json"))
    if rehash:
        meta["members"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items()}
    if manifest is not None:
        meta = manifest(meta)
    with tarfile.open(dst, "w") as tar:
        for name, data in [("manifest.json", json.dumps(meta).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in add:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return dst


def _special(name: str, kind, linkname: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


def _regular(name: str, data: bytes = b"evil") -> tuple:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _end_of(path: Path, name: str) -> int:
    with tarfile.open(path) as tar:
        info = tar.getmember(name)
        return info.offset_data + info.size


def _flip_a_kernel_byte(members: dict) -> dict:
    name = next(n for n in members if n.startswith("kernels/"))
    data = bytearray(members[name])
    data[len(data) // 2] ^= 0xFF
    return {name: bytes(data)}


def _with(key, value):
    def edit(d):
        d[key] = value
        return d
    return edit


CORRUPTIONS = {
    "truncated": (lambda src, dst: dst.write_bytes(src.read_bytes()[:len(src.read_bytes()) // 2]),
                  "truncated|not a readable tar|missing"),
    "truncated-weights": (lambda src, dst: dst.write_bytes(src.read_bytes()[:_end_of(src, "weights.bin") - 1]),
                          "truncated"),
    "not-a-tar": (lambda src, dst: dst.write_bytes(b"\x7fELF" + bytes(5000)), "not a readable tar"),
    "flipped-kernel-byte": (lambda src, dst: _rewrite(src, dst, replace=_flip_a_kernel_byte(_members(src))),
                            "does not match its sha256"),
    "altered-ir": (lambda src, dst: _rewrite(src, dst, replace={"ir.mlir": b"// the IX\n"}),
                   "'ir.mlir' does not match its sha256"),
    "missing-member": (lambda src, dst: _rewrite(src, dst, drop=["ir.mlir"]),
                       "'ir.mlir' listed in the manifest is missing"),
    "extra-member": (lambda src, dst: _rewrite(src, dst, add=[_regular("notes.txt")]),
                     "'notes.txt' is not in the manifest"),
    "dot-dot-member": (lambda src, dst: _rewrite(src, dst, add=[_regular("../evil")]),
                       "'../evil' would leave the package folder"),
    "nested-dot-dot": (lambda src, dst: _rewrite(src, dst, add=[_regular("kernels/../../evil")]),
                       "would leave the package folder"),
    "absolute-member": (lambda src, dst: _rewrite(src, dst, add=[_regular(f"{tempfile.gettempdir()}/evil")]),
                        "has an absolute path"),
    "symlink-member": (lambda src, dst: _rewrite(src, dst, add=[_special("kernels/x.so", tarfile.SYMTYPE,
                                                                         "/etc/passwd")]), "is a link"),
    "hardlink-member": (lambda src, dst: _rewrite(src, dst, add=[_special("evil", tarfile.LNKTYPE, "plan.json")]),
                        "is a link"),
    "device-member": (lambda src, dst: _rewrite(src, dst, add=[_special("evil", tarfile.CHRTYPE)]),
                      "not a regular file"),
    "duplicate-member": (lambda src, dst: _rewrite(src, dst, add=[_regular("plan.json", b"{}")]), "appears twice"),
    "wrong-format": (lambda src, dst: _rewrite(src, dst, manifest=_with("format", 2)),
                     "package format 2; this lamina reads format 1"),
    "wrong-tvm-version": (lambda src, dst: _rewrite(src, dst, manifest=_with("tvm_version", "0.15.0")),
                          "built with TVM 0.15.0; this runtime has TVM"),
    "not-a-package": (lambda src, dst: _rewrite(src, dst, manifest=_with("kind", "something")),
                      "does not describe a lamina-package"),
    "bad-plan": (lambda src, dst: _rewrite(src, dst, plan=_with("arena_bytes", 0), rehash=True),
                 "plan.json is malformed.*outside the arena"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_bad_package_is_refused_in_one_line_and_nothing_is_written(case, package, tmp_path, monkeypatch):
    make, message = CORRUPTIONS[case]
    bad = tmp_path / "pkg" / "bad.tar"
    bad.parent.mkdir()
    make(package, bad)
    temp, cwd = tmp_path / "temp", tmp_path / "cwd"
    temp.mkdir(), cwd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(cwd)
    with pytest.raises(PackageError, match=message) as caught:
        load_package(bad)
    error = caught.value
    assert isinstance(error, LaminaError)
    assert "\n" not in error.message and str(bad) in error.message and error.hint
    assert list(temp.iterdir()) == [] and list(cwd.iterdir()) == []
    assert [p.name for p in bad.parent.iterdir()] == ["bad.tar"] and not (tmp_path / "evil").exists()


def test_a_package_for_another_target_says_so(package, tmp_path):
    with pytest.raises(PackageError, match="built for target 'llvm', not 'cuda'"):
        load_package(package, target="cuda")


def test_a_cross_built_package_is_described_but_not_run_here(package, tmp_path):
    """A cross build holds object files (export_library's .tar) for the device: inspect_package
    reads it, load_package says where it runs."""
    members = _members(package)
    kernels = [n for n in members if n.startswith("kernels/")]

    def to_objects(plan):
        for k in plan["kernels"]:
            k["member"], k["format"] = k["member"][:-3] + ".tar", "object-archive"
        return plan

    def for_android(meta):
        meta["target"] = {"name": "aarch64-android", "cross": True, "mtriple": "aarch64-linux-android",
                          "machine": None, "system": None}
        return meta

    renamed = {n[:-3] + ".tar": members[n] for n in kernels}
    cross = tmp_path / "android.tar"
    _rewrite(package, cross, drop=kernels, replace=renamed, plan=to_objects, manifest=for_android, rehash=True)
    manifest, plan = inspect_package(cross)
    assert manifest["target"]["name"] == "aarch64-android"
    with pytest.raises(PackageError, match="built for aarch64-android; runs on that device") as caught:
        load_package(cross)
    assert "\n" not in caught.value.message


# ---------------------------------------------------------------------------------------------
# writing


def test_writing_over_a_model_input_is_refused_and_leaves_it_unchanged(mlp, tmp_path):
    _, model = mlp
    source = tmp_path / "mlp.onnx"
    source.write_bytes(mlp[0].read_bytes())
    before = source.read_bytes()
    link = tmp_path / "alias.onnx"
    link.symlink_to(source)
    for target in (source, link, tmp_path / "." / "mlp.onnx"):
        with pytest.raises(PackageError, match="refusing to write the package over the model's input file"):
            write_package(model, target, inputs=[source])
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alias.onnx", "mlp.onnx"]


def test_writing_is_atomic(mlp, package, tmp_path, monkeypatch):
    """A failed write leaves the old file whole and no temporary file behind."""
    _, model = mlp
    out = tmp_path / "model.tar"
    out.write_bytes(package.read_bytes())
    from lamina.runtime import package as writer

    def broken(self, n=-1):
        raise OSError("disk full")

    monkeypatch.setattr(writer._Bytes, "read", broken)
    with pytest.raises(PackageError, match=r"cannot write .*model.tar \(disk full\)"):
        write_package(model, out)
    assert out.read_bytes() == package.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.tar"]
    with pytest.raises(PackageError, match="not a plain file name"):
        write_package(model, out, schedules={"../x": ""})
    with pytest.raises(PackageError, match="is a folder"):
        write_package(model, tmp_path)
    with pytest.raises(PackageError, match="cannot write"):
        write_package(model, tmp_path / "no-such-folder" / "m.tar")


# ---------------------------------------------------------------------------------------------
# free concats (runtime/memory_plan.py plan_concats): the aliasing travels as argument offsets


@pytest.fixture(scope="module")
def fire_package(tmp_path_factory):
    """Two SqueezeNet fire modules (tests/test_free_concat.py) at -O3: both concats free."""
    from test_free_concat import fire

    module = lamina.parse(fire(blocks=2))
    model = lamina.compile(module, opt_level=3)
    assert [c.name for c in model.concats if c.free] == ["%cat0", "%cat1"]
    path = write_package(model, tmp_path_factory.mktemp("fire") / "fire.tar")
    return module, model, path


def _inside(arg, outer) -> bool:
    size = lambda a: int(np.prod(a["shape"])) * np.dtype(a["dtype"]).itemsize  # noqa: E731
    return outer["offset"] <= arg["offset"] and arg["offset"] + size(arg) <= outer["offset"] + size(outer)


def test_free_concats_run_from_a_package_as_compiled(fire_package):
    module, model, path = fire_package
    packaged = load_package(path)
    assert packaged.num_kernels == model.num_kernels and packaged.free_concats == 2
    for seed in (0, 1):
        x = np.random.default_rng(seed).standard_normal((1, 16, 6, 6)).astype(np.float32)
        ours = packaged(x)[0]
        assert np.array_equal(ours, model(x)[0])
        np.testing.assert_allclose(ours, lamina.interpret(module, x)[0], rtol=1e-4, atol=1e-5)
    manifest, plan = inspect_package(path)
    assert manifest["format"] == 1  # the plan means what it meant: see package.py's docstring
    assert not any(c["op"] == "nn.concat" for c in plan["calls"])
    outputs_written = [c["args"][-1] for c in plan["calls"]]
    assert len(plan["free_concats"]) == 2
    for concat in plan["free_concats"]:
        for arg in concat["inputs"]:  # each input is some kernel's output, inside the concat's output
            assert arg in outputs_written and _inside(arg, concat["output"])


def test_a_reader_that_ignores_free_concats_runs_the_package_the_same(fire_package, tmp_path):
    _, model, path = fire_package
    old_style = _rewrite(path, tmp_path / "old.tar", plan=lambda p: {k: v for k, v in p.items() if k != "free_concats"},
                         rehash=True)
    packaged = load_package(old_style)
    x = np.random.default_rng(2).standard_normal((1, 16, 6, 6)).astype(np.float32)
    assert packaged.free_concats == 0 and np.array_equal(packaged(x)[0], model(x)[0])


def test_a_free_concat_input_outside_its_output_is_refused(fire_package, tmp_path):
    _, _, path = fire_package

    def move(plan):
        plan["free_concats"][0]["inputs"][1]["offset"] += 1 << 20
        return plan

    bad = _rewrite(path, tmp_path / "bad.tar", plan=move, rehash=True)
    with pytest.raises(PackageError, match="plan.json is malformed"):
        load_package(bad)


def test_the_runner_keeps_only_the_plan_and_the_kernels_in_memory(package):
    """ir.mlir holds every weight again as text (ResNet-18's: 93 MB) and the schedules are for
    people: they are hashed a chunk at a time, never held."""
    from lamina.runtime.package_runner import PackageFile

    opened = PackageFile(package)
    try:
        assert "ir.mlir" in opened.members and any(n.startswith("schedules/") for n in opened.members)
        assert set(opened.data) == {"plan.json"} | {n for n in opened.members if n.startswith("kernels/")}
    finally:
        opened.close()
