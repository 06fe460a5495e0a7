"""Every nn op's TE lowering with lamina's GPU schedules, built for OpenCL-Adreno and run on this
machine's OpenCL device (PoCL), equals its numpy reference on random shapes and attributes: the
cases of tests/test_lowering_cpu.py, on another target. The same scheduled kernels build for
CUDA (tests/test_cuda.py compiles them).

A GPU kernel costs a TVM build and an OpenCL compile (~0.3 s), so each op runs a few examples
in the ci profile (the profile's count in the thorough one)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamina.lowering import targets
from lamina.lowering.te import COMPUTES
from test_lowering_cpu import CASES, check_case

EXAMPLES = 3 if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else 100
TARGET = targets.get("opencl-adreno")


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("gpu-kernels"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gpu_lowering_matches_interpret(name, opencl_device):
    assert name in COMPUTES

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(st.data())
    def check(data):
        check_case(data.draw, name, TARGET)
    check()


def test_resize_index_at_a_float_constant_tvm_prints_short(opencl_device):
    """align_corners from 5 columns to 4 reads column 3 * 4/3 = 4: TVM's OpenCL code generator
    printed 4/3 as 1.333333e+00f, and the kernel read column 3 (found by hypothesis in CI)."""
    from lamina.dialects.nn.base import string
    from lamina.lowering.build import build_op
    from test_lowering_cpu import make_op

    x = np.random.default_rng(0).standard_normal((1, 1, 3, 5)).astype(np.float32)
    op = make_op("nn.resize", [x], {"mode": string("nearest"), "coordinate_transformation_mode":
                                    string("align_corners"), "nearest_mode": string("floor"), "_out": (1, 4)})
    got = build_op(op, TARGET).kernel.run([x], [(1, 1, 1, 4)], [np.float32])[0]
    np.testing.assert_array_equal(got[0, 0, 0], x[0, 0, 0, [0, 1, 2, 4]])


def test_float_literals_printed_short_are_made_exact():
    from lamina.lowering.build import BuildError
    from lamina.lowering.device_build import exact_float_literals

    script = "x = T.float32(1.3333333333333333) * T.float32(0.5) - T.float32(-0.1)"
    source = "a * 1.333333e+00f + (float4)(-1.333333e+00f) * 5.000000e-01f - 1.000000e-01f + 11.333333e+00f"
    assert exact_float_literals(source, script) == (
        "a * 0x1.5555560000000p+0f + (float4)(-0x1.5555560000000p+0f) * 5.000000e-01f - 1.000000e-01f"
        " + 11.333333e+00f")
    with pytest.raises(BuildError, match="two float constants print as 1.333333e\\+00"):
        exact_float_literals(source, script + " T.float32(1.3333332538604736)")
