"""Every nn op's TE lowering with lamina's GPU schedules, built for OpenCL-Adreno and run on this
machine's OpenCL device (PoCL), equals its numpy reference on random shapes and attributes: the
cases of tests/test_lowering_cpu.py, on another target. The same scheduled kernels build for
CUDA (tests/test_cuda.py compiles them).

A GPU kernel costs a TVM build and an OpenCL compile (~0.3 s), so each op runs a few examples
in the ci profile (the profile's count in the thorough one)."""

from __future__ import annotations

import os

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
