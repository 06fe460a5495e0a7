"""`lamina report MODEL -o report.html`: one self-contained HTML page about what lamina made of a
model, to look at rather than read:

- the IR after each pass of the pipeline, each in a collapsible section with its diff against
  the IR before the pass (large constants elided, as MLIR's --mlir-elide-elementsattrs-if-larger:
  ResNet-18's full IR is 94 MB);
- the kernel table: each kernel's time alone and in the model, its share, FLOPs, GFLOP/s, % of
  the machine's FMA peak (measured when the report is made) and the ONNX nodes it computes, as
  `lamina bench --per-kernel` prints it;
- a bar chart of kernel time, and the memory plan as a picture: each arena buffer a rectangle,
  its lifetime (kernel steps) across, its place in the arena down.

No server, no network, no script: the charts are inline SVG, the sections HTML `<details>`.
"""

from __future__ import annotations

import difflib
import html
import time
from dataclasses import dataclass

ELIDE = 16  # constants with more elements print as dense_resource<__elided__>
BAR_HEIGHT, CHART_WIDTH = 16, 720
COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]


@dataclass
class PassSnapshot:
    """The IR after one pass (`name` "import" for the module as loaded), and the pass's time."""

    name: str
    text: str
    seconds: float


def pass_snapshots(module, pipeline: str) -> list[PassSnapshot]:
    """Run `pipeline` on `module` (changed in place) a pass at a time, keeping the IR after each."""
    from lamina.compiler.passes import PassManager
    from lamina.compiler.printer import print_ir

    snapshots = [PassSnapshot("import", print_ir(module, elide_threshold=ELIDE), 0.0)]
    for p in PassManager.parse(pipeline).passes if pipeline else []:
        start = time.perf_counter()
        PassManager([p]).run(module)
        snapshots.append(PassSnapshot(p.pipeline_text(), print_ir(module, elide_threshold=ELIDE),
                                      time.perf_counter() - start))
    return snapshots


def make_report(path: str, pipeline: str, runs: int = 10, threads: int | None = None) -> str:
    """The report page for the model at `path` (.onnx, .lam or .mlir) after `pipeline` (as
    `lamina run -O3` runs: presets.pipeline_for), as HTML text."""
    import lamina
    from lamina.runtime.benchmark import profile_kernels
    from lamina.runtime.executor import compile as compile_model
    from lamina.runtime.flops import fma_peak
    from lamina.runtime.package_runner import fill

    module = lamina.load(path)
    snapshots = pass_snapshots(module, pipeline)
    compiled = compile_model(module, threads=threads)
    inputs = [fill(tuple(p.type.shape), p.type.element_type.numpy_dtype, "random", i)
              for i, p in enumerate(compiled.params)]
    kernels = profile_kernels(compiled, inputs, runs=runs, blocks=1)
    try:
        peak = fma_peak(compiled.threads).gflops
    except Exception:  # noqa: BLE001  (the table does without it)
        peak = None
    return render(path, pipeline or "(none)", snapshots, kernels, compiled.memory_plan, peak, compiled)


def render(model: str, pipeline: str, snapshots: list[PassSnapshot], kernels, plan, peak, compiled=None) -> str:
    from lamina.runtime.benchmark import KERNEL_COLUMNS, Row, kernel_cells

    row = Row(model)
    row.kernel_times = kernels
    total = sum(k.seconds for k in kernels)
    in_model = sum(k.in_model_seconds for k in kernels)
    e = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>lamina report: {e(model)}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>lamina report: {e(model)}</h1>",
             f"<p>pipeline <code>{e(pipeline)}</code>; {len(kernels)} kernel calls, {total * 1e3:.3f} ms alone, "
             f"{in_model * 1e3:.3f} ms in the model; arena {plan.arena_bytes / 2**20:.2f} MiB for "
             f"{sum(not b.is_view for b in plan.buffers)} buffers"
             f"{f'; FMA peak {peak:.0f} GFLOP/s' if peak else ''}"
             f"{f'; {compiled.threads} threads' if compiled is not None else ''}.</p>",
             "<h2 id='kernels'>Kernels</h2>", _table(KERNEL_COLUMNS, kernel_cells(row, peak)),
             "<h2 id='time'>Kernel time</h2>", kernel_bars_svg(kernels),
             "<h2 id='memory'>Memory plan</h2>",
             "<p>Each arena buffer: across, the kernel steps it lives through; down, its place in the arena. "
             "A buffer written in place of another shares its color.</p>", memory_svg(plan),
             "<h2 id='passes'>The IR after each pass</h2>"]
    for i, snap in enumerate(snapshots):
        parts.append(_pass_section(i, snap, snapshots[i - 1] if i else None))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _table(columns, rows) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table class='kernels'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pass_section(i: int, snap: PassSnapshot, before: PassSnapshot | None) -> str:
    e = html.escape
    if before is None:
        return (f"<details class='pass'><summary>{i}. {e(snap.name)}: the module as loaded "
                f"({snap.text.count(chr(10))} lines)</summary><pre>{e(snap.text)}</pre></details>")
    diff = list(difflib.unified_diff(before.text.splitlines(), snap.text.splitlines(), "before", "after",
                                     lineterm="", n=2))
    changed = sum(1 for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))
    lines = []
    for line in diff:
        cls = "add" if line.startswith("+") else "del" if line.startswith("-") else "hunk" if line.startswith("@") \
            else ""
        lines.append(f"<span class='{cls}'>{e(line)}</span>" if cls else e(line))
    what = f"{changed} lines changed" if changed else "no change"
    return (f"<details class='pass'><summary>{i}. {e(snap.name)}: {what}, {snap.seconds * 1e3:.1f} ms</summary>"
            f"<h4>diff</h4><pre class='diff'>{chr(10).join(lines) or '(no change)'}</pre>"
            f"<details><summary>the IR after it</summary><pre>{e(snap.text)}</pre></details></details>")


def kernel_bars_svg(kernels) -> str:
    """A horizontal bar per kernel call, in run order, its length its time alone."""
    if not kernels:
        return "<p>(no kernels)</p>"
    e = html.escape
    longest = max(k.seconds for k in kernels) or 1.0
    label_w, height = 260, BAR_HEIGHT * len(kernels) + 8
    rows = []
    for n, k in enumerate(kernels):
        y = 4 + n * BAR_HEIGHT
        w = (CHART_WIDTH - label_w - 80) * k.seconds / longest
        rows.append(f"<text x='{label_w - 6}' y='{y + 12}' text-anchor='end'>{e(k.label[:40])}</text>"
                    f"<rect class='bar' x='{label_w}' y='{y + 2}' width='{w:.1f}' height='{BAR_HEIGHT - 4}'>"
                    f"<title>{e(k.label)}: {k.seconds * 1e3:.3f} ms</title></rect>"
                    f"<text x='{label_w + w + 4:.1f}' y='{y + 12}'>{k.seconds * 1e3:.3f} ms</text>")
    return (f"<svg class='chart' xmlns='http://www.w3.org/2000/svg' width='{CHART_WIDTH}' height='{height}'>"
            + "".join(rows) + "</svg>")


def memory_svg(plan) -> str:
    """The memory plan: each buffer (not a view) a rectangle, steps across, arena offset down."""
    e = html.escape
    buffers = [b for b in plan.buffers if not b.is_view]
    if not buffers or not plan.arena_bytes:
        return "<p>(no arena buffers)</p>"
    steps = max(plan.num_steps, 1)
    width, height, left, top = CHART_WIDTH, 320, 60, 10
    sx = (width - left - 10) / steps
    sy = (height - top - 30) / plan.arena_bytes
    color = {}
    shapes = []
    for i, b in enumerate(plan.buffers):
        if b.is_view:
            continue
        root = i
        while plan.buffers[root].in_place_of is not None:
            root = plan.buffers[root].in_place_of
        color.setdefault(root, COLORS[len(color) % len(COLORS)])
        x, w = left + b.first * sx, max((b.last - b.first + 1) * sx, 1.0)
        y, h = top + b.offset * sy, max(b.nbytes * sy, 1.0)
        shapes.append(f"<rect class='buffer' x='{x:.1f}' y='{y:.1f}' width='{w:.1f}' height='{h:.1f}' "
                      f"fill='{color[root]}'><title>{e(b.name)}: {b.nbytes} bytes at {b.offset}, steps "
                      f"{b.first}-{b.last} {e(b.detail)}</title></rect>")
    axis = (f"<text x='{left}' y='{height - 8}'>step 0</text>"
            f"<text x='{width - 10}' y='{height - 8}' text-anchor='end'>step {steps - 1}</text>"
            f"<text x='4' y='{top + 10}'>0</text>"
            f"<text x='4' y='{height - 24}'>{plan.arena_bytes / 2**20:.1f} MiB</text>")
    return (f"<svg class='memory' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"
            + axis + "".join(shapes) + "</svg>")


STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 1200px; }
code, pre { font-family: monospace; font-size: 12px; }
pre { background: #f6f8fa; padding: 0.6em; overflow-x: auto; }
table.kernels { border-collapse: collapse; font-size: 12px; }
table.kernels th, table.kernels td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
table.kernels td:nth-last-child(-n+3) { text-align: left; }
svg text { font: 11px monospace; }
rect.bar { fill: #4e79a7; }
rect.buffer { stroke: #333; stroke-width: 0.3; }
details.pass { margin: 0.3em 0; }
.add { color: #22863a; } .del { color: #b31d28; } .hunk { color: #6f42c1; }
"""

__all__ = ["make_report", "render", "pass_snapshots", "memory_svg", "kernel_bars_svg", "PassSnapshot"]
