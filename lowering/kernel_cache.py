"""The kernel cache: compiled kernels kept on disk, found again by a hash of what they compute.

The folder is $LAMINA_CACHE_DIR, else ~/.cache/lamina/kernels. One file per entry, named

    {key}-{digest}{suffix}      e.g. 6075ba51aedc7c2f50cfc417d0d6a33b-1f0e...9c.so

- key: 32 hex digits of the sha256 of what the kernel is (lowering/build.py: the scheduled
  kernel's TVMScript, the target, TVM's version); a cross kernel linked into a shared library
  adds `.{8 hex digits of the compiler command}`;
- digest: 32 hex digits of the sha256 of the entry's own bytes;
- suffix: `.so` (a shared library, loaded here), `.tar` (object files for another machine) or
  `.json` (a GPU kernel: its device source and launch plan, runtime/device_plan.py).

How an entry is checked before it is used (loading a `.so` runs its code):
1. the folder is created private to the user (0700); a folder or an entry that another user
   could have written (owned by someone else, or writable by group or others) is refused with
   one warning line and never loaded — with an unusable folder, kernels are built in a private
   temporary folder for this process instead;
2. the entry's bytes must hash to the digest in its name: a truncated, emptied or garbled entry
   (a full disk, a killed process, a bad sector) is reported in one warning line, removed, and
   rebuilt; so is one that is unreadable or that does not load.
The digest lives in the entry's own name, not in a second file per entry or a shared index, so
a reader never sees an entry without its hash, and concurrent builds of one model into one cache
need no lock: each writes a temporary file, hashes it, and renames it into place in one step.

`info()` describes the cache and `clear()` empties it (`lamina cache info|clear`).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from lamina.compiler.errors import LaminaError

ENTRY = re.compile(r"(?P<key>[0-9a-f]{32}(?:\.[0-9a-f]{8})?)-(?P<digest>[0-9a-f]{32})(?P<suffix>\.so|\.tar|\.json)")
OLD_ENTRY = re.compile(r"[0-9a-f]{32}(?:\.[0-9a-f]{8})?\.(?:so|tar)")  # before entries carried a digest
TEMP = re.compile(r"(?:\.lamina-tmp-|tmp)\w+\.(?:so|tar|json)")  # a build's file before its rename
TEMP_PREFIX = ".lamina-tmp-"
STALE_SECONDS = 3600  # a temporary file older than this belongs to no build still running
KINDS = {".so": "shared libraries", ".tar": "cross-built object archives", ".json": "GPU kernels (source and launch plan)"}


class KernelCacheError(LaminaError):
    """The kernel cache cannot be written."""


def configured_dir() -> Path:
    """The cache folder the environment names, whether or not it exists."""
    root = os.environ.get("LAMINA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "lamina", "kernels")
    return Path(root)


def cache_dir() -> Path:
    """The folder entries are read from and written to: the configured one, created private to
    the user (0700) when missing; when it is not safe to load code from, a private temporary
    folder for this process (after one warning line)."""
    path = configured_dir()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        problem = _writable_by_others(path.stat(), "folder")
    except OSError as e:
        problem = f"cannot be used ({e.strerror or e})"
    if problem is None:
        return path
    warn(f"kernel cache folder {path} {problem}; not using it: kernels are built in a temporary folder "
         f"for this run (make it yours with mode 0700, or set LAMINA_CACHE_DIR)")
    return _private_fallback()


_fallback: list[Path] = []


def _private_fallback() -> Path:
    if not _fallback:
        folder = Path(tempfile.mkdtemp(prefix="lamina-kernels-"))  # 0700, ours
        atexit.register(shutil.rmtree, folder, True)
        _fallback.append(folder)
    return _fallback[0]


def _trusted_owner(uid: int) -> bool:
    return uid in (os.getuid(), 0)  # the user, or root (who can write anything anyway)


def _writable_by_others(st: os.stat_result, what: str) -> str | None:
    """Why a file or folder with this stat could have been written by another user, or None."""
    if what == "entry" and not stat.S_ISREG(st.st_mode):
        return "is not a plain file (a link, a folder)"
    if not _trusted_owner(st.st_uid):
        return f"belongs to another user (uid {st.st_uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by other users (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


_warned: set[str] = set()


def warn(message: str) -> None:
    """One warning line on standard error, once per process for the same message."""
    if message not in _warned:
        _warned.add(message)
        print(f"lamina: warning: {message}", file=sys.stderr, flush=True)


def _digest_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()[:32]


def _damage(path: Path, digest: str, size: int) -> str | None:
    """Why the entry's bytes are not the ones its name was given for, or None."""
    if size == 0:
        return "the file is empty"
    try:
        actual = _digest_of(path)
    except OSError as e:
        return f"it cannot be read: {e.strerror or e}"
    if actual != digest:
        return f"{size} bytes whose hash does not match its name: truncated or overwritten"
    return None


def find(key: str, suffix: str, load):
    """(path, load(path)) for a sound entry of `key` with `suffix`, or None when there is none.
    Entries another user could have written are skipped, damaged ones (and ones `load` fails
    on) are removed, each with one warning line; the caller then builds the kernel again."""
    folder = cache_dir()
    for path in sorted(folder.glob(f"{key}-*{suffix}")):
        m = ENTRY.fullmatch(path.name)
        if m is None or m["key"] != key:
            continue
        try:
            st = path.lstat()
        except FileNotFoundError:  # removed since the listing: another process's clear
            continue
        problem = _writable_by_others(st, "entry")
        if problem is not None:
            warn(f"kernel cache entry {path} {problem}; not loading it, rebuilding")
            continue
        problem = _damage(path, m["digest"], st.st_size)
        if problem is None:
            try:
                return path, load(path)
            except Exception as e:  # TVM's load errors have no common type
                problem = f"it does not load: {_first_line(e)}"
        warn(f"kernel cache entry {path} is damaged ({problem}); rebuilding")
        with suppress(OSError):
            path.unlink()
    return None


def store(key: str, suffix: str, write) -> Path:
    """A new entry for `key`: `write(tmp)` writes the file at the path it is given (in the cache
    folder, so the rename is one step), which is then hashed and renamed to its entry's name.
    On failure the temporary file is removed."""
    folder = cache_dir()
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=folder)
    except OSError as e:
        raise _cannot_write(folder, e) from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o600)  # a linker writes its output with the umask's mode (0775 under umask 002)
        path = folder / f"{key}-{_digest_of(Path(tmp))}{suffix}"
        os.replace(tmp, path)  # atomic: a concurrent reader sees the whole entry or none
    except OSError as e:
        with suppress(OSError):
            os.unlink(tmp)
        raise _cannot_write(folder, e) from None
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _cannot_write(folder: Path, e: OSError) -> KernelCacheError:
    return KernelCacheError(f"cannot write a kernel to the kernel cache {folder} ({e.strerror or e})",
                            hint="free some disk space, or set LAMINA_CACHE_DIR to a writable folder")


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else type(e).__name__)[:200]


# ---------------------------------------------------------------------------------------------
# lamina cache info | clear


@dataclass
class CacheInfo:
    folder: Path
    exists: bool
    problem: str | None = None           # why lamina will not load from it, or None
    entries: dict = field(default_factory=dict)  # suffix -> (count, bytes)
    damaged: list = field(default_factory=list)  # (name, why)
    old: tuple = (0, 0)                  # entries without a digest (never loaded): count, bytes
    temporary: tuple = (0, 0)            # files of builds that have not renamed them yet

    def report(self) -> str:
        if not self.exists:
            return f"kernel cache: {self.folder} (not created yet: empty)"
        lines = [f"kernel cache: {self.folder}"]
        if self.problem:
            lines.append(f"  not used: it {self.problem}")
        count = sum(n for n, _ in self.entries.values())
        size = sum(b for _, b in self.entries.values())
        kinds = ", ".join(f"{n} {KINDS[s]}" for s, (n, _) in sorted(self.entries.items()) if n)
        lines.append(f"  entries: {count}, {size_text(size)}" + (f" ({kinds})" if kinds else ""))
        for name, why in self.damaged:
            lines.append(f"  damaged: {name}: {why} (rebuilt when next needed)")
        if self.old[0]:
            lines.append(f"  old entries without a content hash, never loaded: {self.old[0]}, {size_text(self.old[1])}")
        if self.temporary[0]:
            lines.append(f"  temporary files of builds: {self.temporary[0]}, {size_text(self.temporary[1])}")
        return "\n".join(lines)


def size_text(n: int) -> str:
    """n bytes for people: 812 bytes, 97.1 KiB, 13.6 MiB."""
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MiB"


def info() -> CacheInfo:
    """What the configured cache folder holds, each entry's hash checked; creates nothing."""
    folder = configured_dir()
    if not folder.is_dir():
        return CacheInfo(folder, exists=False)
    result = CacheInfo(folder, exists=True, problem=_writable_by_others(folder.stat(), "folder"))
    old = temporary = (0, 0)
    for path in sorted(folder.iterdir()):
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        m = ENTRY.fullmatch(path.name)
        if m is not None:
            n, b = result.entries.get(m["suffix"], (0, 0))
            result.entries[m["suffix"]] = (n + 1, b + st.st_size)
            why = _writable_by_others(st, "entry") or _damage(path, m["digest"], st.st_size)
            if why:
                result.damaged.append((path.name, why))
        elif OLD_ENTRY.fullmatch(path.name):
            old = (old[0] + 1, old[1] + st.st_size)
        elif TEMP.fullmatch(path.name):
            temporary = (temporary[0] + 1, temporary[1] + st.st_size)
    result.old, result.temporary = old, temporary
    return result


def clear() -> tuple[int, int]:
    """Remove lamina's entries (and old-format entries, and temporary files of builds that
    stopped an hour ago or more) from the configured folder; other files stay. Returns (files
    removed, bytes freed)."""
    folder = configured_dir()
    if not folder.is_dir():
        return 0, 0
    removed = freed = 0
    now = time.time()
    for path in folder.iterdir():
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        ours = ENTRY.fullmatch(path.name) or OLD_ENTRY.fullmatch(path.name) or \
            (TEMP.fullmatch(path.name) and now - st.st_mtime > STALE_SECONDS)
        if not ours or stat.S_ISDIR(st.st_mode):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise KernelCacheError(f"cannot remove {path} ({e.strerror or e})") from None
        removed, freed = removed + 1, freed + st.st_size
    return removed, freed


__all__ = ["cache_dir", "configured_dir", "find", "store", "info", "clear", "size_text", "CacheInfo", "KernelCacheError"]
