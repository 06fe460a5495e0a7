"""Writing a file the user named (`-o FILE`), without ever losing one.

Every command that writes a user-named file calls `write_output` (and `check_output` first,
when it has long work to do before writing, so that a bad `-o` fails at once):

1. it refuses to write over any of the command's inputs: the same path, or the same file
   under another name (a symlink, `./x`, a hard link) — `lamina import m.onnx -o m.onnx` is an
   error, not an ONNX model turned into MLIR text;
2. it writes a temporary file in the destination's folder and renames it over the destination,
   so an interrupted or failed write leaves the old file whole;
3. `-o -` and `-o /dev/stdout` (`/dev/stderr`) write to the stream, and a destination that is no
   plain file (`/dev/null`, a named pipe) is written in place;
4. a symlinked destination keeps its link: the link's target is replaced; an existing file keeps
   its permission bits (and its owner, where the process may set it); a new one gets the umask's.

Append-only files (tuning records) do not go through here: they are appended, never replaced.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from contextlib import suppress

from lamina.compiler.errors import LaminaError

STREAMS = {"-": "stdout", "/dev/stdout": "stdout", "/dev/stderr": "stderr"}


class OutputError(LaminaError):
    """An output file that cannot or may not be written."""


def is_stream(path) -> bool:
    """Whether `-o path` means a standard stream (`-`, /dev/stdout, /dev/stderr)."""
    return os.fspath(path) in STREAMS


def check_output(path, inputs=(), *, what: str = "the output", role: str = "the input file",
                 error: type[LaminaError] = OutputError) -> None:
    """Raise `error` when `path` is a folder or one of `inputs` (paths; `-` and None are skipped),
    under any name. `what` and `role` word the refusal: refusing to write {what} over {role} X."""
    if is_stream(path):
        return
    path = os.fspath(path)
    if os.path.isdir(path):
        raise error(f"{path} is a folder; give the file name to write", hint="e.g. -o model.mlir")
    for source in inputs:
        if source is None or os.fspath(source) == "-":
            continue
        if _same_file(path, os.fspath(source)):
            raise error(f"refusing to write {what} over {role} {os.fspath(source)}",
                        hint="choose another -o path")


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # a hard link, a bind mount
    except OSError:
        return False


def write_output(path, data, inputs=(), *, what: str = "the output", role: str = "the input file",
                 error: type[LaminaError] = OutputError) -> None:
    """Write `data` to `path` as the module docstring says. `data` is text (written as UTF-8),
    bytes, or a function that writes to the binary file object it is given."""
    check_output(path, inputs, what=what, role=role, error=error)
    name = os.fspath(path)
    if is_stream(name):
        stream = getattr(sys, STREAMS[name])
        if isinstance(data, str):
            stream.write(data)
        else:
            stream.flush()
            _write(stream.buffer, data)
        stream.flush()
        return
    target = os.path.realpath(name)  # through symlinks: the link stays, its target is replaced
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    except OSError as e:
        raise error(f"cannot write {name} ({e.strerror or e})") from None
    try:
        if old is not None and not stat.S_ISREG(old.st_mode):  # /dev/null, a named pipe
            with open(target, "wb") as f:
                _write(f, data)
            return
        _replace(target, old, data)
    except OSError as e:
        raise error(f"cannot write {name} ({e.strerror or e})",
                    hint="check that the folder exists, is writable and has space") from None


def _replace(target: str, old: os.stat_result | None, data) -> None:
    """A temporary file beside `target`, written, synced and renamed over it; removed on failure."""
    folder, base = os.path.split(target)
    if not os.path.isdir(folder or "."):
        raise FileNotFoundError(2, f"no such folder {folder}")
    while True:
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
        try:  # 0o666: the umask decides a new file's mode, as open(path, "w") would
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            _write(f, data)
            f.flush()
            os.fsync(f.fileno())
            if old is not None:
                if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
                    with suppress(OSError):  # only root (or the group's member) may; else it is ours now
                        os.fchown(f.fileno(), old.st_uid, old.st_gid)
                os.fchmod(f.fileno(), stat.S_IMODE(old.st_mode))
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _write(f, data) -> None:
    if isinstance(data, str):
        f.write(data.encode("utf-8"))
    elif callable(data):
        data(f)
    else:
        f.write(data)


__all__ = ["write_output", "check_output", "is_stream", "OutputError"]
