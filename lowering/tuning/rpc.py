"""Measure candidates on another machine over TVM's RPC: a board, a phone, a quieter server.

The setup of TVM's Android deployment guides: the device runs an RPC server; with several
devices, each server registers with a tracker under a device key (`android`, `rk3399`) and a
client asks the tracker for a free device of that key. `RpcRunner` is runner.py's `Runner` (the
same `measure(library, args) -> Measurement`, `close()`, `seconds`) with the worker process
replaced by a remote session:

1. Connect: straight to a server (`host:port`), or ask a tracker for a device of `key`. The
   session is opened with TVM's session timeout (`-timeout=` in the handshake): the server
   kills a session that outlives it and answers RPCSessionTimeoutError.
2. Upload the library (built here, for the target the user gave: it must be the remote
   machine's) and load it there. A `.tar` of object files (what a cross target such as
   `aarch64-android` exports without a cross linker) is linked by the server's own compiler
   when it loads it, if it has one; the TVM RPC app on a phone has none.
3. Allocate the arguments on the remote CPU; fill the float ones there with TVM's
   `tvm.contrib.random.random_fill` (no data crosses the network), zeros for the others
   (indices: 0 is always in range), as runner.py's worker does.
4. Time with the remote `time_evaluator`, timed on the device: a trial block of one call sets
   `number` so a block lasts about BLOCK_SECONDS; then one warm-up block and REPEAT blocks in
   one remote call; the median block and the blocks' median absolute deviation, as runner.py.

One session per measurement (TVM's meta-schedule RPC runner does the same): a candidate that
hangs or crashes the server's session process costs only its own session, the session timeout
covers exactly one measurement, and the next measurement connects afresh. Here the whole
measurement also runs in a thread that is given up after the timeout plus GRACE seconds, for a
server or network that stops answering altogether (TVM's socket calls have no timeout of their
own); a given-up thread is left to die with its socket.

TVM 0.27's wheel as installed here: the client (`tvm.rpc.connect`, `connect_tracker`) and the
server loop work, but `tvm.rpc.Server` and `python -m tvm.exec.rpc_server` start the server in
a PopenWorker that needs `cloudpickle`, and the tracker (`python -m tvm.exec.rpc_tracker`) needs
`tornado`. `python -m lamina.lowering.tuning.rpc --port 9090 [--tracker HOST:PORT --key KEY]`
starts the same server loop without cloudpickle (`--as-tracker`: a tracker, still needing
tornado). One difference: TVM's loop ends for good when a session process dies (a candidate
that crashed the kernel), and later clients then wait on a socket no one accepts; this one
ends that session only.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

from .runner import REPEAT, TIMEOUT, WARM, Measurement, Runner, _first_line, calls_per_block, median_and_spread

GRACE = 5.0           # seconds beyond the session timeout before a silent server is given up
CONNECT_TIMEOUT = 5.0  # seconds `runner_from_args` waits for a server or tracker to answer
BIG_CORES = 1         # runtime.config_threadpool's affinity mode: the big cores of a big.LITTLE CPU

_ADDRESS = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")


def parse_address(text: str, option: str = "--rpc") -> tuple[str, int]:
    """`host:port` -> (host, port); a LaminaError naming `option` if it is not one."""
    from lamina.compiler.errors import LaminaError

    m = _ADDRESS.match(text.strip())
    if not m or not 0 < int(m["port"]) < 65536:
        raise LaminaError(f"{option} expects HOST:PORT, got '{text}'",
                          hint=f"for example {option} 127.0.0.1:9090")
    return m["host"].strip("[]"), int(m["port"])


class RpcSessionTimeout(Exception):
    """The server ended the session at its timeout (TVM's RPCSessionTimeoutError)."""


class RpcRunner:
    """Measures built kernel libraries on an RPC server (see the module's docstring): `server`
    is (host, port); or `tracker` (host, port) and `key`, the device key the servers registered
    with. `threads`: the remote runtime's thread count (None: leave the server's own)."""

    def __init__(self, server: tuple[str, int] | None = None, tracker: tuple[str, int] | None = None,
                 key: str | None = None, threads: int | None = None, timeout: float = TIMEOUT):
        if (server is None) == (tracker is None):
            raise ValueError("give an RPC server or a tracker, not both or neither")
        if tracker is not None and not key:
            raise ValueError("a tracker needs a device key")
        self.server = server
        self.tracker = tracker
        self.key = key or ""
        self.threads = None if threads is None else int(threads)
        self.timeout = float(timeout)
        self.seconds = 0.0  # time spent measuring (connecting, uploading, waiting for the device)
        self.cache = WARM  # calls in a row (runner.py): the device's caches are its own

    @property
    def where(self) -> str:
        if self.server is not None:
            return f"the RPC server at {self.server[0]}:{self.server[1]}"
        return f"device '{self.key}' of the tracker at {self.tracker[0]}:{self.tracker[1]}"

    def __enter__(self) -> "RpcRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to close: each measurement opens and drops its own session."""

    # -- sessions ------------------------------------------------------------------------------

    def _connect(self, session_timeout: float):
        from tvm import rpc

        if self.server is not None:
            host, port = self.server
            return rpc.connect(host, port, session_timeout=session_timeout)
        tracker = rpc.connect_tracker(*self.tracker)
        try:
            return tracker.request(self.key, session_timeout=session_timeout, max_retry=1)
        finally:
            tracker.close()

    def _in_thread(self, work, seconds: float):
        """`work()`'s value, raising what it raised, or TimeoutError after `seconds` (the thread
        is then left behind: a socket call in TVM cannot be interrupted)."""
        box = {}

        def run():
            try:
                box["value"] = work()
            except BaseException as e:  # noqa: BLE001 (handed to the caller)
                box["error"] = e

        thread = threading.Thread(target=run, daemon=True, name="lamina-rpc")
        thread.start()
        thread.join(seconds)
        if thread.is_alive():
            raise TimeoutError(f"no answer from {self.where} in {seconds:g} s")
        if "error" in box:
            raise box["error"]
        return box["value"]

    def check(self) -> None:
        """Connect once and check the remote runtime answers; raises what connecting raised,
        or TimeoutError."""
        def probe():
            session = self._connect(session_timeout=CONNECT_TIMEOUT + GRACE)
            return session.get_function("runtime.NumThreads")()

        self._in_thread(probe, CONNECT_TIMEOUT + GRACE)

    # -- measuring -----------------------------------------------------------------------------

    def measure(self, library, args) -> Measurement:
        """Time the kernel in `library` (built for the remote machine) called with random arrays
        of `args` ([(shape, dtype)]: inputs, then outputs) on the remote CPU."""
        start = time.perf_counter()
        try:
            path = Path(library)
            if not path.is_file():
                return Measurement(None, None, True, f"no library at {path}")
            median, spread = self._in_thread(lambda: self._measure_remote(path, args), self.timeout + GRACE)
            return Measurement(median, spread)
        except TimeoutError as e:
            return Measurement(None, None, True, str(e))
        except RpcSessionTimeout:
            return Measurement(None, None, True, f"timed out after {self.timeout:g} s (on {self.where})")
        except Exception as e:  # TVM's errors: a refused connection, a library that does not load
            return Measurement(None, None, True, _why(e))
        finally:
            self.seconds += time.perf_counter() - start

    def _measure_remote(self, path: Path, args) -> tuple[float, float]:
        import numpy as np
        import tvm

        try:
            session = self._connect(session_timeout=self.timeout)
        except Exception as e:
            raise ConnectionError(f"cannot reach {self.where}: {_first_line(e)}") from None
        try:
            if self.threads is not None:
                session.get_function("runtime.config_threadpool")(BIG_CORES, self.threads)
            session.upload(str(path), path.name)
            module = session.load_module(path.name)
            dev = session.cpu()
            fill = _remote_function(session, "tvm.contrib.random.random_fill")
            tensors = []
            for shape, dtype in args:
                t = tvm.runtime.empty(tuple(int(d) for d in shape), str(dtype), dev)
                if np.dtype(dtype).kind == "f" and fill is not None and int(np.prod(shape)):
                    fill(t)
                else:
                    t.copyfrom(np.zeros(tuple(shape), dtype))
                tensors.append(t)
            module["main"](*tensors)  # warm-up, and a kernel that fails says so here
            once = module.time_evaluator("main", dev, number=1, repeat=1)(*tensors).mean
            number = calls_per_block(once)
            results = module.time_evaluator("main", dev, number=number, repeat=REPEAT + 1)(*tensors).results
        except Exception as e:
            if "RPCSessionTimeoutError" in str(e) or "RPCSessionTimeoutError" in type(e).__name__:
                raise RpcSessionTimeout() from None
            raise
        return median_and_spread([float(r) for r in results[1:]])  # (the first block warmed caches and clocks)


def _why(e: Exception) -> str:
    """One line for a failed measurement: the remote error's own message, without the
    "RPCError: Error caught from RPC call:" line TVM puts before it."""
    if isinstance(e, ConnectionError):
        return str(e)
    if "code=kShutdown" in str(e):
        return "the remote session died (the library or the kernel crashed it)"
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip() and "Error caught from RPC call" not in ln]
    text = (lines[0] if lines else "")[:300]
    name = type(e).__name__
    return text if text.startswith(name) else f"{name}: {text}" if text else name


def _remote_function(session, name: str):
    """A global function of the remote runtime, or None if it has none by that name."""
    try:
        return session.get_function(name)
    except Exception:
        return None


def runner_from_args(rpc: str | None, tracker: str | None, key: str | None, threads: int,
                     timeout: float | None) -> "Runner | RpcRunner":
    """`lamina tune`'s runner: the local worker process, or `--rpc HOST:PORT`, or `--tracker
    HOST:PORT --device-key KEY`. A malformed address, a missing key, or a server or tracker that
    does not answer is a LaminaError with a hint."""
    from lamina.compiler.errors import LaminaError

    timeout = TIMEOUT if timeout is None else float(timeout)
    if rpc and tracker:
        raise LaminaError("--rpc and --tracker exclude each other",
                          hint="--rpc names one server; --tracker hands out a device by its --device-key")
    if key and not tracker:
        raise LaminaError("--device-key needs --tracker", hint="--tracker HOST:PORT --device-key KEY")
    if not rpc and not tracker:
        return Runner(threads, timeout=timeout)
    if rpc:
        runner = RpcRunner(server=parse_address(rpc, "--rpc"), threads=threads, timeout=timeout)
        hint = ("start one there with `python -m lamina.lowering.tuning.rpc --host 0.0.0.0 --port "
                f"{runner.server[1]}` (or TVM's RPC app on a phone)")
    else:
        if not key:
            raise LaminaError("--tracker needs --device-key",
                              hint="the key the device's RPC server registered with, e.g. --device-key android")
        address = parse_address(tracker, "--tracker")
        _check_tracker(address, key)
        runner = RpcRunner(tracker=address, key=key, threads=threads, timeout=timeout)
        hint = ("check that the device's RPC server is registered: "
                f"`python -m tvm.exec.query_rpc_tracker --port {address[1]}`")
    try:
        runner.check()
    except Exception as e:
        raise LaminaError(f"cannot reach {runner.where}: {_first_line(e)}", hint=hint) from None
    return runner


def _check_tracker(address: tuple[str, int], key: str) -> None:
    """The tracker answers and has a server registered under `key`; else a LaminaError."""
    from lamina.compiler.errors import LaminaError

    where = f"the RPC tracker at {address[0]}:{address[1]}"
    try:  # a plain socket first: TVM's tracker client retries a refused connection for 60 s
        socket.create_connection(address, timeout=CONNECT_TIMEOUT).close()
    except OSError as e:
        raise LaminaError(f"cannot reach {where}: {e.strerror or e}",
                          hint="start one with `python -m tvm.exec.rpc_tracker --port PORT` (needs tornado)") from None
    from tvm import rpc

    try:
        summary = rpc.connect_tracker(*address).summary()
    except Exception as e:
        raise LaminaError(f"{where} did not answer as a tracker: {_first_line(e)}") from None
    keys = sorted({item["key"].split(":", 1)[-1] for item in summary.get("server_info", [])})
    if key not in keys:
        raise LaminaError(f"{where} has no device with key '{key}'",
                          hint=f"registered keys: {', '.join(keys) or 'none'}")


# ---------------------------------------------------------------------------------------------
# a server (TVM's server loop, started without the PopenWorker that needs cloudpickle)


def serve(host: str = "0.0.0.0", port: int = 9090, port_end: int | None = None,
          tracker: tuple[str, int] | None = None, key: str = "", silent: bool = False) -> int:
    """Start TVM's RPC server loop on the first free port in [port, port_end) in this process
    (a thread that keeps it alive); returns the port it bound.

    One change to TVM's loop: a session process that dies (a candidate that crashed the
    kernel) ends TVM's whole server with RuntimeError; here it ends that session only."""
    import os

    from tvm.rpc import server

    serving, home = server._serving, os.getcwd()

    def serving_that_survives(sock, addr, opts, load_library):
        try:
            serving(sock, addr, opts, load_library)
        except RuntimeError as e:  # the session process exited unsuccessfully
            server.logger.warning("session from %s ended: %s", addr, e)
            os.chdir(home)
            sock.close()

    server._serving = serving_that_survives
    state = server.PopenRPCServerState(host, port, port_end or port + 1, tracker_addr=tracker, key=key,
                                       silent=silent)
    return state.port


def serve_tracker(host: str = "0.0.0.0", port: int = 9190, silent: bool = False) -> int:
    """Start TVM's RPC tracker in this process (it needs tornado); returns its port."""
    from tvm.rpc.tracker import PopenTrackerServerState

    return PopenTrackerServerState(host, port, port + 1, silent).port


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lamina.lowering.tuning.rpc",
                                     description="A TVM RPC server for `lamina tune --rpc` (TVM's server loop).")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument("--port-end", type=int, default=None, help="try ports up to this one (excluded)")
    parser.add_argument("--tracker", default=None, help="register with the tracker at HOST:PORT")
    parser.add_argument("--key", default="", help="the device key to register with")
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--as-tracker", action="store_true", help="be a tracker instead (needs tornado)")
    a = parser.parse_args(argv)
    if a.as_tracker:
        print(f"tracking on {a.host}:{serve_tracker(a.host, a.port, a.silent)}", flush=True)
        return
    tracker = parse_address(a.tracker, "--tracker") if a.tracker else None
    bound = serve(a.host, a.port, a.port_end, tracker, a.key, a.silent)
    print(f"serving on {a.host}:{bound}", flush=True)


if __name__ == "__main__":
    main()
