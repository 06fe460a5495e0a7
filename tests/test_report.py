"""`lamina report` (runtime/report.py): the page's tables and pictures checked against the
compiled model they describe; where a headless Chromium is installed, the page also renders
without console errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from lamina.compiler.passes.presets import pipeline_for


class Page(HTMLParser):
    """The parts of the page the tests read: table cells by row, details summaries, svg rects."""

    def __init__(self):
        super().__init__()
        self.rows, self.summaries, self.rects, self.headers = [], [], [], []
        self._cell = self._summary = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""
            self._in_head = tag == "th"
        elif tag == "summary":
            self._summary = ""
        elif tag == "rect":
            self.rects.append(attrs.get("class"))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            (self.headers if self._in_head else self.rows[-1]).append(self._cell)
            self._cell = None
        elif tag == "summary":
            self.summaries.append(self._summary)
            self._summary = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._summary is not None:
            self._summary += data


def lamina_cli(*args):
    return subprocess.run([sys.executable, "-m", "lamina", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def report(zoo, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "mlp.html"
    r = lamina_cli("report", zoo / "mlp.onnx", "-o", out, "--runs", "3")
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    page = Page()
    page.feed(text)
    return text, page


def test_the_kernel_table_has_a_row_per_kernel_call_with_numbers(report, zoo):
    import lamina

    _, page = report
    compiled = lamina.compile(str(zoo / "mlp.onnx"))
    rows = [r for r in page.rows if r]
    assert page.headers[:3] == ["#", "ms", "in model ms"] and "ONNX nodes" in page.headers
    assert len(rows) == len(compiled.steps)
    assert sorted(int(r[0]) for r in rows) == list(range(len(rows)))
    for r in rows:
        assert float(r[1]) >= 0 and float(r[2]) >= 0
    nodes = page.headers.index("ONNX nodes")
    assert any("fc1.matmul" in r[nodes] for r in rows)


def test_a_section_per_pass_with_its_diff(report):
    text, page = report
    passes = pipeline_for(3).split(",")
    sections = [s for s in page.summaries if re.match(r"\d+\. ", s)]
    assert sections[0].startswith("0. import")
    assert [s.split(":")[0].split(". ", 1)[1] for s in sections[1:]] == passes
    assert "nn.fused" in text  # the IR after fuse
    fuse = next(s for s in sections if ". fuse:" in s)
    assert "lines changed" in fuse


def test_pictures_a_bar_per_kernel_and_a_rectangle_per_buffer(report, zoo):
    import lamina

    text, page = report
    compiled = lamina.compile(str(zoo / "mlp.onnx"))
    assert page.rects.count("bar") == len(compiled.steps)
    assert page.rects.count("buffer") == sum(not b.is_view for b in compiled.memory_plan.buffers)
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")


def test_the_report_refuses_to_overwrite_its_model(zoo, tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes((zoo / "mlp.onnx").read_bytes())
    r = lamina_cli("report", model, "-o", model)
    assert r.returncode == 1 and "refusing to write" in r.stderr
    assert model.read_bytes() == (zoo / "mlp.onnx").read_bytes()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless browser: Chromium is not installed (Debian: chromium)")
def test_the_page_renders_in_a_headless_browser_without_console_errors(report, tmp_path):
    text, _ = report
    page = tmp_path / "r.html"
    page.write_text(text)
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                        "--v=0", "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "<table" in r.stdout
    assert "CONSOLE" not in r.stderr and "Uncaught" not in r.stderr
