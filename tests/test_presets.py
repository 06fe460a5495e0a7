"""The -O levels (compiler/passes/presets.py) and how the CLI lists them."""

import subprocess
import sys
from pathlib import Path

import pytest

from lamina.compiler.errors import LaminaError
from lamina.compiler.passes import PassManager
from lamina.compiler.passes.presets import LEVELS, pipeline_for

LAMINA = Path(sys.executable).parent / "lamina"


def test_levels_are_cumulative_and_parse():
    assert pipeline_for(0) == ""
    assert pipeline_for(1) == "canonicalize,fold-constants,cse,dce"
    assert pipeline_for(2) == pipeline_for(1) + ",combine-ops," + pipeline_for(1)
    assert pipeline_for(3) == pipeline_for(2) + ",fuse"
    for level in LEVELS:
        PassManager.parse(pipeline_for(level))  # every pass of every level exists


@pytest.mark.parametrize("layout,inserted", [
    ("NHWC", "convert-layout{to=NHWC},fold-constants,fuse"),
    ("NCHW8c", "convert-layout{to=NCHWc c=8},fold-constants,fuse"),
    ("NCHW16c", "convert-layout{to=NCHWc c=16},fold-constants,fuse"),
])
def test_layout_goes_before_fusion(layout, inserted):
    text = pipeline_for(3, layout)
    assert text.endswith(inserted)
    PassManager.parse(text)
    assert pipeline_for(1, layout).endswith(inserted.rsplit(",fuse", 1)[0])  # no fuse at -O1
    assert pipeline_for(3, "NCHW") == pipeline_for(3)


@pytest.mark.parametrize("layout", ["NCWH", "NCHW0c", "nhwc", "NCHWc"])
def test_unknown_layout(layout):
    with pytest.raises(LaminaError, match="unknown layout"):
        pipeline_for(3, layout)


def test_unknown_level():
    with pytest.raises(LaminaError, match="-O7"):
        pipeline_for(7)


def test_list_passes_shows_passes_and_levels():
    proc = subprocess.run([str(LAMINA), "opt", "--list-passes"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name in ("canonicalize", "cse", "dce", "fold-constants", "combine-ops", "fuse", "convert-layout"):
        assert f"  {name} " in proc.stdout, proc.stdout
    for level in range(4):
        assert f"  -O{level} " in proc.stdout, proc.stdout
    assert "= canonicalize,fold-constants,cse,dce,combine-ops" in proc.stdout


def test_opt_takes_a_level(tmp_path):
    source = """\
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %a = nn.relu %x : (tensor<4xf32>) -> tensor<4xf32>
  %b = nn.relu %x : (tensor<4xf32>) -> tensor<4xf32>
  %c = nn.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %c : tensor<4xf32>
}
"""
    proc = subprocess.run([str(LAMINA), "opt", "-O1", "-"], input=source, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("nn.relu") == 1  # cse at -O1
    proc = subprocess.run([str(LAMINA), "opt", "-O0", "-"], input=source, capture_output=True, text=True)
    assert proc.stdout.count("nn.relu") == 2


@pytest.mark.parametrize("model", ["resnet18", "mobilenetv2", "transformer_block", "tiny_yolo", "mlp"])
def test_O3_again_on_its_own_output_fires_nothing(zoo, model):
    """The optimizer runs its patterns to a fixpoint: -O3 on the output of -O3 fires no pattern,
    folds nothing, fuses nothing, and prints the same IR."""
    from lamina.compiler.frontends.onnx import load_onnx
    from lamina.compiler.printer import print_ir

    module = load_onnx(str(zoo / f"{model}.onnx"))
    PassManager.parse(pipeline_for(3)).run(module)
    once = print_ir(module)
    again = PassManager.parse(pipeline_for(3))
    again.run(module)
    fired = {p.name: dict(stats) for p, stats in again.statistics if stats}
    assert fired == {}
    assert print_ir(module) == once
