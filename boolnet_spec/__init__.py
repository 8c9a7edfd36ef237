"""boolnet-spec: the bit-level reference specification and verification suite for BoolNet.

The chapters install as subpackages: :mod:`boolnet_spec.reference` (what happens, executably),
:mod:`boolnet_spec.spec` (what must hold, symbolically) and :mod:`boolnet_spec.equivalence` (who
else is checked against the reference). Layers point one way: reference <- spec <- equivalence
<- the command line (:mod:`boolnet_spec.cli`).
"""

from boolnet_spec.reference import SPEC_VERSION

__version__ = SPEC_VERSION
__all__ = ["SPEC_VERSION", "__version__"]
