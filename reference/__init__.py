"""The executable reference of the BoolNet specification: one module per operation.

Each module's docstring is the normative text of its chapter; its labelled requirements
(``.. req:: LABEL``) are enforced by its code and covered by tests named in ``tests/``.
"""

# Imported as a bare `reference` (from a checkout on sys.path) it would be a second copy.
if __name__ != "boolnet_spec.reference":
    raise ImportError(f"import boolnet_spec.reference, not {__name__}: this folder is "
                      "installed as boolnet_spec.reference")

SPEC_VERSION = "0.1.0"
