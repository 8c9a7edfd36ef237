"""Sphinx configuration of the rendered specification (``tox -e docs``)."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

from spec_metadata import COPYRIGHT, SPEC_DATE, SPEC_STATUS  # noqa: E402

from boolnet_spec.reference import SPEC_VERSION  # noqa: E402

project = "boolnet-spec"
author = "the boolnet-spec authors"
copyright = COPYRIGHT
version = release = SPEC_VERSION

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "spec_metadata",
    "mathjax_local",
    "requirements_ext",
    "proofs_ext",
    "tests_source",
    "examples_ext",
    "op_tables",
    "figures_ext",
    "fold_algorithm",
    "api_ext",
]
exclude_patterns = ["_build", "_generated"]

# Every cross-reference must resolve. Other packages have no inventory offline, so the names of
# the standard library and of numpy, torch and z3 in signatures are exempt; nothing else is.
nitpicky = True
nitpick_ignore_regex = [
    ("py:class", r"(numpy|torch|z3|fractions|collections\.abc|os|pathlib|typing|argparse)"
                 r"(\..+)?"),
    # A result type the certifier does not export; its fields are documented with Certification.
    ("py:class", r"boolnet_spec\.equivalence\.pytorch\.certify\.NodeCertificate"),
]

autodoc_member_order = "bysource"
# Defaults render as written in the source (no ``<function <lambda>>``), annotations by their
# short name (no ``~module.Class``).
autodoc_preserve_defaults = True
autodoc_typehints_format = "short"
python_use_unqualified_type_names = True
add_module_names = False

html_theme = "furo"
html_title = f"boolnet-spec {SPEC_VERSION} ({SPEC_STATUS}, {SPEC_DATE})"
html_static_path = ["_static"]
html_css_files = ["requirements.css"]
html_favicon = "_static/favicon.svg"
html_last_updated_fmt = None
pygments_style = "sphinx"
