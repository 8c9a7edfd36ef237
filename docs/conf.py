"""Sphinx configuration of the rendered specification (``tox -e docs``)."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

from boolnet_spec.reference import SPEC_VERSION  # noqa: E402

project = "boolnet-spec"
author = "the boolnet-spec authors"
version = release = SPEC_VERSION

extensions = ["sphinx.ext.autodoc", "requirements_ext", "proofs_ext"]
exclude_patterns = ["_build"]

# Every cross-reference into boolnet_spec must resolve; the standard library and third-party
# packages have no inventory offline, so only their names in signatures are exempt.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|torch|z3|fractions|collections|os|pathlib|typing|types)(\..*)?"),
]

autodoc_member_order = "bysource"
add_module_names = False

html_theme = "alabaster"
html_static_path = ["_static"]
html_css_files = ["requirements.css"]
html_theme_options = {"description": "The bit-level reference specification of BoolNet",
                      "fixed_sidebar": True}
