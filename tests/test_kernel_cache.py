"""A damaged kernel cache never crashes lamina (lowering/kernel_cache.py).

Entries are named by a hash of their bytes and checked before they are loaded: a truncated,
emptied, garbled or unreadable entry is rebuilt with one warning line, and the model still
matches onnxruntime; an entry or folder that another user could have written is never loaded;
three processes compiling one model into one cache at once leave a sound cache; `lamina cache
info|clear` shows and empties it. Every test has a cache folder of its own ($LAMINA_CACHE_DIR).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina.lowering import kernel_cache

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

LAMINA = Path(sys.executable).parent / "lamina"
X = np.random.default_rng(0).standard_normal((4, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    """softmax(relu(x @ w)) and a sum over its rows: a few kernels at -O3."""
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), "w")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="matmul"),
         helper.make_node("Relu", ["h"], ["r"], name="relu"),
         helper.make_node("Softmax", ["r"], ["y"], name="softmax", axis=-1),
         helper.make_node("ReduceSum", ["r", "axes"], ["s"], name="sum", keepdims=1)],
        "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, [4, 1])], [w, axes])
    path = tmp_path_factory.mktemp("model") / "small.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "kernels"
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(folder))
    return folder


def compile_and_check(model_path: Path):
    """Compile the model (a fresh compile: only the disk cache is shared) and check its outputs
    against onnxruntime; returns the build statistics."""
    model = lamina.compile(lamina.load_onnx(str(model_path)), opt_level=3)
    reference = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"]).run(None, {"x": X})
    for ours, ref in zip(model(X), reference):
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    return model.stats


def entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if kernel_cache.ENTRY.fullmatch(p.name))


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("lamina: warning:")]


DAMAGE = {
    "truncated": lambda data: data[:len(data) // 3],
    "emptied": lambda data: b"",
    "garbled": lambda data: data[:len(data) // 2] + bytes(b ^ 0xFF for b in data[len(data) // 2:][:64])
    + data[len(data) // 2 + 64:],
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_entry_is_rebuilt_with_one_warning(model_path, cache, capsys, damage):
    first = compile_and_check(model_path)
    assert first.built >= 2 and first.from_disk == 0
    assert cache.stat().st_mode & 0o777 == 0o700
    victim = entries(cache)[0]
    victim.write_bytes(DAMAGE[damage](victim.read_bytes()))
    capsys.readouterr()
    second = compile_and_check(model_path)
    assert (second.built, second.from_disk) == (1, first.built - 1)
    (line,) = warnings(capsys.readouterr().err)
    assert f"kernel cache entry {victim} is damaged" in line and line.endswith("; rebuilding")
    third = compile_and_check(model_path)  # the rebuilt entry loads; nothing more is said
    assert (third.built, third.from_disk) == (0, first.built)
    assert warnings(capsys.readouterr().err) == []
    assert len(entries(cache)) == first.built


def test_an_unreadable_or_unloadable_entry_is_rebuilt(cache, monkeypatch, capsys):
    path = kernel_cache.store("a" * 32, ".so", lambda tmp: Path(tmp).write_bytes(b"\x7fELF not really"))
    assert kernel_cache.ENTRY.fullmatch(path.name) and path.stat().st_mode & 0o777 == 0o600

    def refuse(p):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(kernel_cache, "_digest_of", refuse)
        assert kernel_cache.find("a" * 32, ".so", lambda p: pytest.fail("loaded an unreadable entry")) is None
    (line,) = warnings(capsys.readouterr().err)
    assert "is damaged (it cannot be read: Permission denied); rebuilding" in line
    path = kernel_cache.store("a" * 32, ".so", lambda tmp: Path(tmp).write_bytes(b"\x7fELF not really"))

    def fail_to_load(p):
        raise RuntimeError("Failed to load dynamic shared library\nfile too short")

    assert kernel_cache.find("a" * 32, ".so", fail_to_load) is None
    (line,) = warnings(capsys.readouterr().err)
    assert "is damaged (it does not load: file too short); rebuilding" in line
    assert not path.exists()


def test_a_full_disk_is_a_user_error_and_leaves_no_temporary_file(cache):
    def no_space(tmp):
        Path(tmp).write_bytes(b"half a kern")
        raise OSError(28, "No space left on device")

    with pytest.raises(kernel_cache.KernelCacheError, match=r"cannot write a kernel .* \(No space left on device\)"):
        kernel_cache.store("c" * 32, ".so", no_space)
    assert list(cache.iterdir()) == []


def test_entries_and_folders_other_users_could_write_are_never_loaded(cache, capsys):
    key = "b" * 32
    path = kernel_cache.store(key, ".so", lambda tmp: Path(tmp).write_bytes(b"kernel"))
    assert kernel_cache.find(key, ".so", lambda p: "loaded") == (path, "loaded")
    never = lambda p: pytest.fail(f"loaded {p}")  # noqa: E731
    path.chmod(0o620)
    assert kernel_cache.find(key, ".so", never) is None
    (line,) = warnings(capsys.readouterr().err)
    assert f"kernel cache entry {path} is writable by other users (mode 0620); not loading it" in line
    assert path.exists()  # not ours to judge: left as it is
    if os.getuid() == 0:  # only root can give a file away
        path.chmod(0o600)
        os.chown(path, 4321, 4321)
        assert kernel_cache.find(key, ".so", never) is None
        assert "belongs to another user (uid 4321)" in capsys.readouterr().err
        os.chown(path, 0, 0)
    path.chmod(0o600)
    cache.chmod(0o770)
    assert kernel_cache.find(key, ".so", never) is None  # the folder is not used at all
    (line,) = warnings(capsys.readouterr().err)
    assert f"kernel cache folder {cache} is writable by other users (mode 0770); not using it" in line
    fallback = kernel_cache.store(key, ".so", lambda tmp: Path(tmp).write_bytes(b"kernel"))
    assert fallback.parent != cache and fallback.parent.stat().st_mode & 0o777 == 0o700
    cache.chmod(0o700)


def test_three_compiles_at_once_then_a_truncated_entry_and_cache_info_clear(model_path, cache):
    """The user's view: three `lamina compile` processes at once into one empty cache, then one
    entry truncated (what made `lamina run` die of a Bus error), then `lamina cache`."""
    env = {**os.environ, "LAMINA_CACHE_DIR": str(cache)}
    procs = [subprocess.Popen([str(LAMINA), "compile", str(model_path)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and warnings(err) == [], err
    names = entries(cache)
    assert names and all(kernel_cache._digest_of(p) == kernel_cache.ENTRY.fullmatch(p.name)["digest"] for p in names)
    assert [p.name for p in cache.iterdir() if p not in names] == []  # no temporary file left
    names[0].write_bytes(names[0].read_bytes()[:1000])
    run = subprocess.run([str(LAMINA), "run", str(model_path), "--fill", "random", "--check", "onnxruntime"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "1 built" in run.stdout and run.stdout.count(" ok") == 2
    (line,) = warnings(run.stderr)
    assert f"kernel cache entry {names[0]} is damaged" in line
    info = subprocess.run([str(LAMINA), "cache", "info"], env=env, capture_output=True, text=True)
    assert info.returncode == 0 and f"kernel cache: {cache}" in info.stdout
    assert f"entries: {len(entries(cache))}," in info.stdout and "damaged" not in info.stdout
    (cache / "notes.txt").write_text("not lamina's")
    count = len(entries(cache))
    clear = subprocess.run([str(LAMINA), "cache", "clear"], env=env, capture_output=True, text=True)
    assert clear.returncode == 0 and f"removed {count} files" in clear.stdout, clear.stderr
    assert [p.name for p in cache.iterdir()] == ["notes.txt"]
