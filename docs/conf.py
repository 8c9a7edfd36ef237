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

# Every cross-reference must resolve; other packages have no inventory offline, so only the
# names of the standard library and the third-party types in signatures are exempt.
nitpicky = True

autodoc_member_order = "bysource"
add_module_names = False

html_theme = "alabaster"
html_static_path = ["_static"]
html_css_files = ["requirements.css"]
html_theme_options = {"description": "The bit-level reference specification of BoolNet",
                      "fixed_sidebar": True}
