"""compiler/progress.py: a bar on a terminal once work has run a second, plain lines elsewhere
every few seconds, nothing at all for quick work; checked with a fake clock."""

from __future__ import annotations

import io

from lamina.compiler import progress as progress_module
from lamina.compiler.progress import Progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run(steps, seconds_per_step, terminal):
    clock, out = Clock(), io.StringIO()
    with Progress(steps, "compiling kernels", stream=out, clock=clock, terminal=terminal) as p:
        for _ in range(steps):
            clock.now += seconds_per_step
            p.advance()
    return out.getvalue()


def test_quick_work_prints_nothing_anywhere():
    assert run(50, 0.01, terminal=True) == ""
    assert run(50, 0.01, terminal=False) == ""


def test_a_terminal_gets_a_bar_redrawn_in_place_and_wiped_at_the_end():
    text = run(10, 0.5, terminal=True)
    frames = text.split("\r\x1b[2K")
    assert frames[0] == "" and frames[-1] == ""  # every frame redrawn in place; the last wipes the line
    bars = frames[1:-1]
    assert bars[0].startswith("compiling kernels [") and " 2/10 " in bars[0]  # shown from 1 s on
    assert bars[-1].startswith("compiling kernels [" + "#" * progress_module.WIDTH + "] 10/10")
    assert "\n" not in text


def test_elsewhere_plain_lines_every_few_seconds_and_a_last_one():
    lines = run(30, 1.0, terminal=False).splitlines()
    every = int(progress_module.LINE_EVERY)
    assert lines[:-1] == [f"compiling kernels: {n}/30 ({n:.1f} s)" for n in range(every, 31, every)]
    assert lines[-1] == "compiling kernels: 30/30 (30.0 s), done"


def test_a_broken_stream_is_not_an_error():
    class Broken(io.StringIO):
        def write(self, _):
            raise OSError("broken pipe")
    clock = Clock()
    with Progress(3, "x", stream=Broken(), clock=clock, terminal=True) as p:
        clock.now = 5
        p.advance()


def test_the_bench_draws_a_bar_over_its_models_on_a_terminal(monkeypatch):
    import sys

    from lamina.runtime import benchmark

    out = io.StringIO()
    out.isatty = lambda: True
    monkeypatch.setattr(sys, "stderr", out)
    monkeypatch.setattr(progress_module, "SHOW_AFTER", 0.0)
    say, bar = benchmark._bench_progress(["mlp", "glue"], quiet=False)
    for msg in ("FMA peak, 2 threads", "mlp: onnxruntime", "mlp: lamina", "glue: onnxruntime"):
        say(msg)
    bar.close()
    frames = out.getvalue().split("\r\x1b[2K")
    assert frames[-1] == "" and "\n" not in out.getvalue()
    assert " 0/2 " in frames[1] and frames[1].endswith("FMA peak, 2 threads")
    assert " 0/2 " in frames[3] and frames[3].endswith("mlp: lamina")
    assert " 1/2 " in frames[4] and frames[4].endswith("glue: onnxruntime")  # mlp done
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: plain lines
    say, bar = benchmark._bench_progress(["mlp"], quiet=False)
    say("mlp: lamina")
    assert bar is None and sys.stderr.getvalue() == "mlp: lamina\n"
    assert benchmark._bench_progress(["mlp"], quiet=True) == (None, None)
