"""What must hold, symbolically: the requirement registry, the z3 twins of the ops, the theorems
and the BN-variant prover."""

# Imported as a bare `spec` (from a checkout on sys.path) it would be a second copy.
if __name__ != "boolnet_spec.spec":
    raise ImportError(f"import boolnet_spec.spec, not {__name__}: this folder is "
                      "installed as boolnet_spec.spec")
