"""Schedule files: `lamina compile --emit-schedules DIR` writes one `.mlir` file per kernel
(its nodes, target and TE compute as comments, then its sched.schedule), and `--schedules DIR`
reads them back, so a user edits a kernel's schedule as text.

A file names its kernel in the program (`sched.schedule @conv1+bn1+relu`), not by its file name,
so files can be renamed. Emitting never overwrites a file that differs from what it would write
(the user may have edited it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lamina.compiler.errors import LaminaError


class ScheduleFileError(LaminaError):
    """A schedule directory or file that cannot be read or written."""


def file_name(kernel: str) -> str:
    return re.sub(r"[^\w.+\-]", "_", kernel) + ".mlir"


def compute_summary(module) -> list[str]:
    """The kernel's TE computes, one line per block: its loops (extent; reduction loops after
    `|`) and the buffers it reads."""
    from .. import tvm_adapter

    info = tvm_adapter.kernel_info(module)
    reads = tvm_adapter.block_reads(module)
    lines = []
    width = max((len(n) for n in info.blocks), default=0)
    for name, loops in info.blocks.items():
        spatial = [f"{l.name} {l.extent}" for l in loops if l.kind != "reduce"]
        reduced = [f"{l.name} {l.extent}" for l in loops if l.kind == "reduce"]
        nest = ", ".join(spatial) + (" | " + ", ".join(reduced) if reduced else "")
        lines.append(f"{name:{width}}  [{nest}]  reads {', '.join(reads.get(name, [])) or 'nothing'}")
    return lines


def schedule_text(kernel) -> str:
    """The file for one built kernel (a lowering.build.BuiltKernel)."""
    from lamina.compiler.printer import print_ir

    scheduled = kernel.scheduled
    program = scheduled.program
    header = [f"// lamina schedule of kernel {kernel.name}, for target {program.target_name}",
              "// compute (TE, before scheduling): a block per compute, its loops (reduction loops after |)"]
    header += [f"//   {line}" for line in compute_summary(scheduled.module)]
    header += ["// edit the knobs or the ops, then: lamina compile MODEL --schedules DIR (or lamina run ...)"]
    return "\n".join(header) + "\n" + print_ir(program, print_locations=False)


def write_schedules(kernels, directory, flag: str = "--emit-schedules") -> list[Path]:
    """One file per kernel with a schedule (not the empty ones) in `directory` (made if missing)."""
    texts = {file_name(k.name): schedule_text(k) for k in kernels if has_schedule(k)}
    return _write_files(texts, directory, flag)


def has_schedule(kernel) -> bool:
    """Whether a built kernel has a schedule program (not an empty kernel, nor one TVM's dlight
    scheduled: --peer-schedules)."""
    return kernel.scheduled is not None and kernel.scheduled.program is not None


SOURCE_SUFFIX = {"opencl": ".cl", "cuda": ".cu"}


def write_sources(kernels, directory) -> list[Path]:
    """`lamina compile --target T --emit-source DIR`: each GPU kernel's device code as TVM
    generated it (`<kernel>.cl` or `<kernel>.cu`) beside its schedule (`<kernel>.mlir`)."""
    texts = {}
    for k in kernels:
        plan = getattr(k.kernel, "plan", None)
        if plan is None or k.scheduled is None:
            continue
        stem = file_name(k.name)[:-len(".mlir")]
        texts[stem + SOURCE_SUFFIX[plan.language]] = plan.source
        if has_schedule(k):
            texts[stem + ".mlir"] = schedule_text(k)
    return _write_files(texts, directory, "--emit-source")


def _write_files(texts: dict, directory, flag: str) -> list[Path]:
    """Write name -> text into `directory` (made if missing); a file there that differs from
    what would be written is an error, before anything is written (the user may have edited it)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ScheduleFileError(f"{flag} {directory}: exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    texts = {directory / name: text for name, text in texts.items()}
    for path, text in texts.items():
        if path.exists() and path.read_text(encoding="utf-8") != text:
            raise ScheduleFileError(f"{path} exists and differs from what lamina would write there",
                                    hint="emit into an empty directory, or remove the file if you do not need it")
    for path, text in texts.items():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return list(texts)


def read_schedules(directory) -> dict:
    """The sched.schedule programs in `directory`'s .mlir files, by the kernel each names."""
    from lamina.compiler.parser import parse
    from lamina.compiler.verifier import verify
    from lamina.dialects.sched import ScheduleOp

    directory = Path(directory)
    if not directory.is_dir():
        raise ScheduleFileError(f"--schedules {directory}: no such directory")
    programs: dict = {}
    for path in sorted(directory.glob("*.mlir")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ScheduleFileError(f"{path}: cannot read it ({e})") from None
        module = parse(text, str(path))
        verify(module)
        found = [op for op in module.block if isinstance(op, ScheduleOp)]
        if len(found) != 1 or len(module.block.ops) != 1:
            raise ScheduleFileError(f"{path}: a schedule file holds exactly one sched.schedule op",
                                    hint="emit one with lamina compile MODEL --emit-schedules DIR")
        program = found[0]
        if program.kernel in programs:
            raise ScheduleFileError(f"{path}: kernel {program.kernel} has a schedule in two files")
        programs[program.kernel] = program
    return programs
