"""The rendered specification, read as an implementer reads it: built once, checked in Chromium.

The site is built with ``-W`` (every warning an error) into a temporary folder, then:

- every internal link and anchor of every page resolves, and no page loads anything from the
  network (the site works offline);
- the key pages, opened in headless Chromium at 1400 and 800 px, have no horizontal overflow,
  no console error, no image that fails to load and no formula left unrendered; their
  screenshots are saved as build artefacts (``BOOLNET_DOCS_ARTEFACTS``, default
  ``build/docs-screenshots``);
- an implementer's questions are answered by the pages alone: the dtype and shape of every
  model-file array, the canonical unit of a BatchNorm row, the order of a block's tensors.

Chromium is Debian's ``chromium``, driven by playwright with ``executable_path`` (playwright never
downloads a browser here). Without Chromium or playwright the browser checks skip, except under
``CI=true``, where they fail with the command that installs what is missing.
"""

from __future__ import annotations

import html.parser
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
KEY_PAGES = {
    "index": "index.html",
    "fold": "chapters/fold.html",
    "requirements": "requirements.html",
    "datapath": "chapters/datapath-mvu.html",
    "modelfile": "chapters/modelfile.html",
    "architecture": "chapters/architecture.html",
    "bconv": "chapters/bconv.html",
    "head": "chapters/head.html",
}
SCREENSHOTS = ("index", "fold", "requirements", "datapath")
WIDTHS = (1400, 800)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
INSTALL_CHROMIUM = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium"


def unavailable(reason: str, command: str):
    message = f"{reason}; install it with: {command}"
    if IN_CI:
        pytest.fail(f"CI=true: the docs browser test never skips. {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site built once with -W; BOOLNET_DOCS_HTML reuses a site built by the same sources."""
    prebuilt = os.environ.get("BOOLNET_DOCS_HTML")
    if prebuilt:
        return Path(prebuilt)
    out = tmp_path_factory.mktemp("docs") / "html"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(ROOT / "docs"), str(out)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"sphinx-build -W failed:\n{result.stderr[-5000:]}"
    print(f"docs built in {time.monotonic() - started:.1f} s")
    return out


class _Page(html.parser.HTMLParser):
    """The ids, links and loaded resources of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for key in ("src", "data"):
            if attrs.get(key):
                self.resources.append(attrs[key])
        if tag == "link" and attrs.get("href") and attrs.get("rel") != ["canonical"]:
            self.resources.append(attrs["href"])


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_every_internal_link_and_anchor_resolves_and_nothing_loads_from_the_network(site):
    pages = {path: parse(path) for path in site.rglob("*.html")}
    broken, remote = [], []
    for path, page in pages.items():
        for resource in page.resources:
            if urlsplit(resource).scheme in ("http", "https") or resource.startswith("//"):
                remote.append(f"{path.relative_to(site)}: {resource}")
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("mailto:", "//")):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(site)}: {link} (no file)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(site)}: {link} (no anchor)")
    assert not broken, f"{len(broken)} broken links:\n" + "\n".join(broken[:40])
    assert not remote, "pages load from the network:\n" + "\n".join(remote[:40])


@pytest.fixture(scope="session")
def browser():
    chromium = os.environ.get("BOOLNET_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        unavailable("Chromium is not installed", INSTALL_CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed", "pip install -e '.[docs]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server(site):
    """The site over HTTP on the loopback interface, as a reader's browser would load it."""
    handler = partial(_QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


ARTEFACTS = Path(os.environ.get("BOOLNET_DOCS_ARTEFACTS", ROOT / "build" / "docs-screenshots"))

PAGE_CHECKS = """() => {
  const doc = document.documentElement;
  const wide = [...document.querySelectorAll('article *')]
    .filter(e => e.getBoundingClientRect().right > doc.clientWidth + 1
                 && getComputedStyle(e).position !== 'fixed')
    .slice(0, 5)
    .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 60));
  const images = [...document.images].filter(i => !i.complete || i.naturalWidth === 0)
    .map(i => i.getAttribute('src'));
  const math = document.querySelectorAll('.math').length;
  const unrendered = [...document.querySelectorAll('.math')]
    .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60));
  const mathErrors = [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
    .map(e => e.getAttribute('data-mjx-error') || e.textContent);
  return {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, wide, images,
          math, unrendered, mathErrors};
}"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(KEY_PAGES))
def test_key_page_renders_in_chromium(browser, server, name, width):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on("response", lambda response: problems.append(f"{response.status}: {response.url}")
            if response.status >= 400 else None)
    page.goto(f"{server}/{KEY_PAGES[name]}", wait_until="load")
    page.wait_for_function("() => !window.MathJax || (window.MathJax.startup && "
                           "window.MathJax.startup.promise)", timeout=20_000)
    page.evaluate("() => window.MathJax && window.MathJax.startup.promise")
    report = page.evaluate(PAGE_CHECKS)
    if name in SCREENSHOTS:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / f"{name}-{width}.png"), full_page=False)
    context.close()
    assert not problems, problems
    assert report["scrollWidth"] <= report["clientWidth"], \
        f"horizontal overflow {report['scrollWidth']} > {report['clientWidth']}: {report['wide']}"
    assert not report["images"], f"images that did not load: {report['images']}"
    assert not report["unrendered"], f"formulas left unrendered: {report['unrendered']}"
    assert not report["mathErrors"], f"formulas with errors: {report['mathErrors']}"
    if name == "fold":
        assert report["math"] >= 5, "the fold chapter's formulas are missing"


# An implementer's questions, answered from the built pages alone.

def page_text(site: Path, page: str) -> str:
    return (site / page).read_text(encoding="utf-8")


def tables(html_text: str, table_class: str) -> list[list[list[str]]]:
    """Every table of a class: its rows as lists of cell texts."""
    found = []
    for table in re.findall(rf'<table[^>]*class="[^"]*\b{table_class}\b[^"]*"[^>]*>(.*?)</table>',
                            html_text, re.S):
        rows = []
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
            cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
            rows.append([" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in cells])
        found.append(rows)
    return found


def table_rows(html_text: str, table_class: str) -> list[list[str]]:
    """The rows of every table of a class, as lists of cell texts."""
    return [row for table in tables(html_text, table_class) for row in table]


def test_the_pages_give_dtype_and_shape_of_every_model_file_array(site):
    from boolnet_spec.reference.architecture import architecture
    from boolnet_spec.reference.build import build_model, random_state_dict

    documented = {}
    text = page_text(site, KEY_PAGES["modelfile"])
    for op in ("stem", "bconv", "head"):
        for key, dtype, shape, *_ in table_rows(text, f"modelfile-{op}"):
            if key.startswith("arrays."):
                documented[(op, key.removeprefix("arrays."))] = (dtype, shape)
    checked = 0
    for name in ("boolnet-k4", "basenet-k4"):
        arch = architecture(name).scaled(widths=(8, 16, 32, 64), blocks=(1, 1, 1, 1),
                                         image_size=32, classes=10)
        model = build_model(arch, random_state_dict(arch, 1))
        for node in model.nodes:
            for role, member in node.arrays.items():
                array = model.arrays[member]
                assert (node.op, role) in documented, f"{node.op} {role} is not on the page"
                dtype, shape = documented[(node.op, role)]
                assert dtype == str(array.dtype), (node.op, role, dtype, array.dtype)
                symbols = shape.strip("[]").split(", ")
                assert len(symbols) == array.ndim, (node.op, role, shape, array.shape)
                checked += 1
    assert checked > 50


def test_the_fold_page_gives_the_canonical_unit_of_each_batchnorm_row(site):
    from boolnet_spec.reference.batchnorm import BatchNorm
    from boolnet_spec.reference.fold import fold_bn_sign

    text = page_text(site, KEY_PAGES["fold"])
    examples = re.findall(r'<div class="worked-example[^"]*" id="example-(fold-[a-z0-9-]+)">'
                          r"(.*?)</table>", text, re.S)
    assert len(examples) >= 5
    for case, body in examples:
        values = {}
        for _, name, value in table_rows(body + "</table>", "worked-example-table")[1:]:
            values[name] = value
        f32 = {key: np.uint32(int(re.search(r"float32 0x([0-9a-f]{8})", values[key])[1], 16))
               .view(np.float32) for key in ("gamma", "beta", "mean", "var", "alpha",
                                             "conv bias b", "slice offset o")}
        eps = float.fromhex(re.search(r"binary64 (\S+)\)", values["eps (binary64)"])[1])
        bn = BatchNorm(*(np.array([f32[k]], np.float32) for k in ("gamma", "beta", "mean", "var")),
                       eps=eps)
        units = fold_bn_sign(bn, int(values["n"]), alpha=np.array([f32["alpha"]]),
                             bias=np.array([f32["conv bias b"]]),
                             offsets=np.array([f32["slice offset o"]]))
        unit = (int(units.polarity[0, 0]), int(units.threshold[0, 0]))
        assert values["canonical unit (polarity, t)"] == str(unit), case


def test_the_ops_page_gives_the_order_of_a_blocks_tensors(site):
    from boolnet_spec.reference.architecture import architecture
    from boolnet_spec.reference.build import build_model, random_state_dict
    from boolnet_spec.reference.network import forward

    # The first two tables are BoolNet's blocks layer1.1 and layer2.0 (the third is BaseNet's).
    boolnet = tables(page_text(site, "chapters/ops.html"), "block-tensors")[:2]
    on_page = [row[1] for table in boolnet for row in table if row and row[0].isdigit()]
    arch = architecture("boolnet-k4").scaled(widths=(8, 16, 32, 64), blocks=(2, 1, 1, 1),
                                             image_size=32, classes=10)
    model = build_model(arch, random_state_dict(arch, 0))
    image = np.zeros((1, 3, 32, 32), np.float32)
    _, trace = forward(model, image, trace=True)
    for block in ("layer1.1", "layer2.0"):
        traced = [name for name in trace if name.startswith(block + ".") or name == block]
        documented = [name for name in on_page if name.startswith(block + ".") or name == block]
        assert documented == traced, block


def test_every_requirement_links_to_its_tests_and_the_table_rows_have_anchors(site):
    text = page_text(site, KEY_PAGES["requirements"])
    from boolnet_spec.spec.requirements import requirements

    for label in requirements():
        assert f'id="row-{label}"' in text, label
    fold = page_text(site, KEY_PAGES["fold"])
    assert re.search(r'Tested by <a [^>]*href="../requirements.html#row-FOLD-3"', fold)
    assert re.search(r'Proved by <a [^>]*href="proofs.html#req-PROOF-9"', fold)
    # The label with the most tests has its list collapsed.
    assert re.search(r'<tr[^>]*id="row-ERR-1".*?<details', text, re.S)
