"""The optional packages some tests use as independent oracles: torch (the authors' formulas) and
z3 (the proofs). Without them those tests skip; the reference's own tests need only ``.[test]``."""

import pytest

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = F = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch (pip install '.[torch]')")

__all__ = ["torch", "F", "needs_torch"]
