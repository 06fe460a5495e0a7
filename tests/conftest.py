"""Shared test settings: hypothesis profiles.

`ci` (the default) keeps the whole suite within CI's budget on two cores; `thorough` is for
long local runs: HYPOTHESIS_PROFILE=thorough python -m pytest -n 2
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=100, deadline=None, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ZOO_SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "models" / "zoo.py"


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> Path:
    """A folder holding every zoo model as ONNX (examples/models/zoo.py), written once per
    session (per xdist worker): tests never depend on files a user may or may not have written."""
    out = tmp_path_factory.mktemp("zoo")
    subprocess.run([sys.executable, str(ZOO_SCRIPT), "--out", str(out)], check=True, capture_output=True)
    return out


@pytest.fixture
def direct_convs():
    """Convs lowered with the direct compute: for tests of its schedules (schedules/cpu.py
    `conv_schedule`) on 3x3 stride-1 shapes that would otherwise take Winograd's (te/winograd.py,
    tests/test_winograd.py)."""
    from lamina.lowering.te import winograd

    with winograd.disabled():
        yield


@pytest.fixture(scope="session")
def kernel_dir(tmp_path_factory) -> Path:
    """One kernel cache for the session's model runs (`lamina run` and `lamina compare` on the
    zoo, the ONNX conformance cases); under xdist in the workers' common temp dir, so a kernel
    one worker built, the others load."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    path = base / "session-kernels"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def opencl_device():
    """The OpenCL device the GPU targets' kernels run on here (PoCL on the CPU). Without one a
    test skips, naming what is missing, except in CI (CI=true), where the README's test command
    installs PoCL, so a missing device is a failure."""
    from lamina.runtime.opencl import OpenCLDevice, missing_reason

    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI has no OpenCL device: {reason}")
        pytest.skip(reason)
    return OpenCLDevice.get()
