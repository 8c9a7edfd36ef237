"""The executable reference of the BoolNet specification: one module per operation.

Each module's docstring is the normative text of its chapter; its labelled requirements
(``.. req:: LABEL``) are enforced by its code and covered by tests named in ``tests/``.
"""

SPEC_VERSION = "0.1.0"
