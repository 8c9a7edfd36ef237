"""Math that renders with no network: MathJax 3 from the ``sphinx-mathjax-offline`` wheel.

``sphinx.ext.mathjax`` loads MathJax from a CDN by default. This extension points it at
``_static/mathjax/tex-svg.js`` and copies the MathJax distribution that the PyPI package
``sphinx-mathjax-offline`` ships into the built site, so every formula renders offline (SVG
output: no web fonts to load).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util.fileutil import copy_asset

PACKAGE = "sphinx-mathjax-offline"


def mathjax_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ExtensionError(f"MathJax is missing: pip install {PACKAGE} (the docs extra)")
    return Path(spec.origin).parent / "static" / "mathjax"


def copy_mathjax(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        copy_asset(str(mathjax_dir()), str(Path(app.outdir) / "_static" / "mathjax"))


def use_local_mathjax(app, config) -> None:
    mathjax_dir()
    config.mathjax_path = "mathjax/tex-svg.js"


def setup(app):
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_mathjax)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
