"""Test configuration: Hypothesis profiles; the ``req`` marker is registered in pyproject.toml."""

import os

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
