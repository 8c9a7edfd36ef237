"""Test configuration: Hypothesis profiles; the ``req`` marker is registered in pyproject.toml."""

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI is derandomized so that a failure reproduces from its log; print_blob gives the replay seed.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          max_examples=200, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, print_blob=True, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    # Tiny test tensors: thread start-up dominates, and the shared 2-core machine stalls on it.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def boolnet_wheel(tmp_path_factory) -> Path:
    """The wheel of this checkout, built once per test run and shared by the xdist workers."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    wheels = shared / "boolnet-wheel"
    with open(shared / "boolnet-wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not list(wheels.glob("boolnet_spec-*.whl")):
            subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                            str(wheels), str(Path(__file__).resolve().parent.parent)],
                           check=True, timeout=300)
    (wheel,) = wheels.glob("boolnet_spec-*.whl")
    return wheel
