"""Who else is checked against the reference: harnesses for other implementations."""

# Imported as a bare `equivalence` (from a checkout on sys.path) it would be a second copy.
if __name__ != "boolnet_spec.equivalence":
    raise ImportError(f"import boolnet_spec.equivalence, not {__name__}: this folder is "
                      "installed as boolnet_spec.equivalence")
