"""Progress on work that takes more than a few seconds: compiling a model's kernels, `lamina
check-pass`, `lamina bench`.

On a terminal, a bar on standard error redrawn in place (`compiling kernels [#####.....] 23/55
4.1 s`), shown once the work has taken SHOW_AFTER seconds and wiped when it ends, so quick work
shows nothing and the command's own output is never interleaved with it. Anywhere else (a log, a
pipe, CI), plain lines: one every LINE_EVERY seconds while the work runs, and a last one when it
ends if any was printed; quick work prints nothing there either.

    with Progress(len(kernels), "compiling kernels") as progress:
        for k in kernels:
            build(k)
            progress.advance()
"""

from __future__ import annotations

import os
import sys
import time

SHOW_AFTER = 1.0   # seconds before a bar appears on a terminal
LINE_EVERY = 10.0  # seconds between plain progress lines elsewhere
WIDTH = 30         # characters of the bar


class Progress:
    def __init__(self, total: int, what: str, stream=None, clock=time.monotonic, terminal: bool | None = None):
        self.total, self.what, self.done = max(total, 0), what, 0
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.start = self.last_line = clock()
        if terminal is None:
            terminal = bool(getattr(self.stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"
        self.terminal = terminal
        self.drawn = False   # a bar is on the screen
        self.printed = False  # a plain line was printed

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done = min(self.total, self.done + n) if self.total else self.done + n
        now = self.clock()
        if self.terminal:
            if now - self.start >= SHOW_AFTER:
                self._draw(now, note)
        elif now - self.last_line >= LINE_EVERY:
            self.last_line = now
            self.printed = True
            self._write(f"{self._counts(now)}{f' {note}' if note else ''}\n")

    def close(self) -> None:
        now = self.clock()
        if self.drawn:
            self._write("\r\x1b[2K")  # wipe the bar: what follows starts on a clean line
            self.drawn = False
        elif self.printed:
            self._write(f"{self._counts(now)}, done\n")
            self.printed = False

    def _counts(self, now: float) -> str:
        of = f"/{self.total}" if self.total else ""
        return f"{self.what}: {self.done}{of} ({now - self.start:.1f} s)"

    def _draw(self, now: float, note: str) -> None:
        filled = WIDTH * self.done // self.total if self.total else 0
        bar = "#" * filled + "." * (WIDTH - filled)
        line = f"{self.what} [{bar}] {self.done}/{self.total} {now - self.start:.1f} s{f' {note}' if note else ''}"
        self._write("\r\x1b[2K" + line[:200])
        self.drawn = True

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: progress is never worth an error
            pass


__all__ = ["Progress"]
