"""The RPC runner (lowering/tuning/rpc.py) against a TVM RPC server on localhost.

The server is `python -m lamina.lowering.tuning.rpc` (TVM's server loop; TVM's own
`python -m tvm.exec.rpc_server` needs cloudpickle), a subprocess on a free port, killed at the
end. The tracker test needs tornado and skips without it.
"""

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from lamina.compiler.errors import LaminaError  # noqa: E402
from lamina.lowering.tuning import rpc  # noqa: E402
from lamina.lowering.tuning.rpc import RpcRunner, runner_from_args  # noqa: E402
from lamina.lowering.tuning.runner import Runner  # noqa: E402
from lamina.lowering.tuning.tasks import extract_tasks, load_optimized  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(*argv: str, ready: str) -> tuple[subprocess.Popen, int]:
    """`python -m lamina.lowering.tuning.rpc ARGV` on a free port, once it says `ready`."""
    port = _free_port()
    env = dict(os.environ, TVM_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "lamina.lowering.tuning.rpc", "--host", "127.0.0.1",
                             "--port", str(port), "--silent", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    if ready not in line:
        proc.kill()
        pytest.fail(f"the RPC process did not start: {line}{proc.stdout.read()[-2000:]}")
    return proc, port


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    proc.stdout.close()


@pytest.fixture(scope="module")
def server():
    proc, port = _start(ready="serving on")
    yield port
    _stop(proc)


def _matmul_task(tmp_path_factory, n: int):
    """The one task of x[n, n] @ w[n, n]: its default library and argument specs."""
    rng = np.random.default_rng(0)
    w = helper.make_tensor("w", TensorProto.FLOAT, [n, n], rng.standard_normal(n * n).tolist())
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "mm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])], [w])
    path = tmp_path_factory.mktemp("rpc-models") / f"mm{n}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    (task,), _ = extract_tasks(load_optimized(str(path)), "llvm", threads=1)
    return task


@pytest.fixture(scope="module")
def matmul(tmp_path_factory):
    return _matmul_task(tmp_path_factory, 64)


def test_the_rpc_runner_times_a_kernel_like_the_local_runner(server, matmul):
    with RpcRunner(("127.0.0.1", server), threads=1) as remote:
        m = remote.measure(matmul.library, matmul.args)
    assert not m.failed, m.error
    with Runner(1, cache="warm") as local:  # as the RPC runner times
        here = local.measure(matmul.library, matmul.args)
    assert not here.failed, here.error
    assert m.median_s > 0 and m.spread_s >= 0 and remote.seconds > 0
    assert 0.1 < m.median_s / here.median_s < 10  # the same machine: the same order of magnitude


def test_a_missing_library_or_a_gone_server_is_a_failed_measurement(server, matmul, tmp_path):
    runner = RpcRunner(("127.0.0.1", server))
    m = runner.measure(tmp_path / "nothing.so", matmul.args)
    assert m.failed and "no library" in m.error
    m = runner.measure(tmp_path, matmul.args)  # a directory is no library either
    assert m.failed
    gone = RpcRunner(("127.0.0.1", _free_port()))
    m = gone.measure(matmul.library, matmul.args)
    assert m.failed and "cannot reach the RPC server at 127.0.0.1" in m.error
    assert not runner.measure(matmul.library, matmul.args).failed  # the server goes on


def test_a_kernel_slower_than_the_timeout_is_failed_and_the_next_is_measured(server, matmul, tmp_path_factory):
    slow = _matmul_task(tmp_path_factory, 2048)  # 17 GFLOP a call, ~0.25 s here: 8 calls pass 0.5 s
    runner = RpcRunner(("127.0.0.1", server), threads=1, timeout=0.5)
    start = time.perf_counter()
    m = runner.measure(slow.library, slow.args)
    assert m.failed and "timed out after 0.5 s" in m.error, m.error
    assert time.perf_counter() - start < 0.5 + rpc.GRACE
    runner.timeout = 10
    assert not runner.measure(matmul.library, matmul.args).failed  # a new session


def test_a_server_that_never_answers_is_given_up_after_the_grace(monkeypatch, matmul):
    monkeypatch.setattr(rpc, "GRACE", 0.3)
    with socket.socket() as silent:  # accepts the connection (the backlog), says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        runner = RpcRunner(silent.getsockname(), timeout=0.2)
        m = runner.measure(matmul.library, matmul.args)
    assert m.failed and "no answer from the RPC server" in m.error


def test_runner_from_args(server):
    assert isinstance(runner_from_args(None, None, None, threads=2, timeout=None), Runner)
    remote = runner_from_args(f"127.0.0.1:{server}", None, None, threads=1, timeout=5)
    assert isinstance(remote, RpcRunner) and remote.server == ("127.0.0.1", server) and remote.timeout == 5
    for rpc_arg, tracker, key, words in [
        ("localhost", None, None, "--rpc expects HOST:PORT"),
        ("127.0.0.1:99999", None, None, "--rpc expects HOST:PORT"),
        (f"127.0.0.1:{_free_port()}", None, None, "cannot reach the RPC server"),
        ("a:1", "b:2", "k", "exclude each other"),
        (None, "127.0.0.1:9190", None, "--tracker needs --device-key"),
        (None, None, "android", "--device-key needs --tracker"),
        (None, f"127.0.0.1:{_free_port()}", "android", "cannot reach the RPC tracker"),
    ]:
        with pytest.raises(LaminaError) as e:
            runner_from_args(rpc_arg, tracker, key, threads=1, timeout=None)
        assert words in e.value.message and (e.value.hint or "cannot reach" not in words)


def test_through_a_tracker(matmul):
    pytest.importorskip("tornado", reason="TVM's RPC tracker needs tornado (pip install tornado)")
    tracker, tport = _start("--as-tracker", ready="tracking on")
    server, _ = _start("--tracker", f"127.0.0.1:{tport}", "--key", "lamina-test", ready="serving on")
    try:
        deadline = time.time() + 10
        while True:  # the server registers a moment after it starts
            try:
                runner = runner_from_args(None, f"127.0.0.1:{tport}", "lamina-test", threads=1, timeout=10)
                break
            except LaminaError as e:
                if time.time() > deadline:
                    raise
                assert "no device with key" in e.message
                time.sleep(0.2)
        m = runner.measure(matmul.library, matmul.args)
        assert not m.failed and m.median_s > 0, m.error
        with pytest.raises(LaminaError, match="no device with key 'phone'"):
            runner_from_args(None, f"127.0.0.1:{tport}", "phone", threads=1, timeout=10)
    finally:
        _stop(server)
        _stop(tracker)


def test_a_library_that_crashes_the_session_fails_and_the_server_goes_on(server, matmul, tmp_path):
    """TVM's own server loop ends when a session process dies; lamina's server goes on."""
    import shutil

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a crashing library")
    (tmp_path / "boom.c").write_text("#include <stdlib.h>\n"
                                     "__attribute__((constructor)) static void boom(void) { abort(); }\n")
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp_path / "boom.so"), str(tmp_path / "boom.c")], check=True)
    runner = RpcRunner(("127.0.0.1", server))
    m = runner.measure(tmp_path / "boom.so", matmul.args)
    assert m.failed and "the remote session died" in m.error, m.error
    assert not runner.measure(matmul.library, matmul.args).failed


def test_lamina_tune_measures_on_an_rpc_server(server, tmp_path, capsys):
    """`lamina tune --rpc HOST:PORT`: every record measured there; then compile with them."""
    import json

    from lamina.compiler.cli import main

    model = tmp_path / "mm.lam"
    model.write_text("model mm(x: f32[16, 32]) {\n  w = param f32[32, 32] init=normal(seed=0, std=0.1)\n"
                     "  return relu(x @ w)\n}\n")
    records = tmp_path / "r.jsonl"
    code = main(["tune", str(model), "--rpc", f"127.0.0.1:{server}", "--trials", "2", "--confirm", "0",
                 "--records", str(records), "--threads", "1"])
    assert code == 0, capsys.readouterr()
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(lines) == 3 and not any(r["failed"] for r in lines), lines  # the default and 2 candidates
    assert main(["tune", str(model), "--rpc", "nohost", "--records", str(records)]) == 1
    assert "--rpc expects HOST:PORT" in capsys.readouterr().err
