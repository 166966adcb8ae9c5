"""Static checks of the built HTML book (no browser): what every reader gets on every page.

The book is built once per session with warnings as errors (``scripts/build_book.py --execute off
-W``, committed outputs) into ``_build/test-html/html``; a build there that is newer than every
source of the book (``build_is_fresh``) is reused (``tests/test_book.py`` builds into the same folder). Pages are
discovered from ``_toc.yml``: a chapter added to the book is checked the moment it is added.
``tests/test_browser.py`` checks the same pages in Chromium.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from bs4 import BeautifulSoup, Tag
from filelock import FileLock

from booktools import toc_files

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build" / "test-html"
HTML = BUILD / "html"
STAMP = BUILD / "built-ok"
SOURCES = ["_config.yml", "_toc.yml", "_static", "scripts/build_book.py", "book"]
BIB_PAGE = "book/references.html"
MATHJAX = "_static/mathjax/tex-chtml.js"
MAX_SCRIPTS = 30  # <script src> per page; vendored MathJax dumped in _static gave ~70
MAX_ASSET_BYTES = 6_000_000  # every script and stylesheet a page loads (the HTML itself aside)
MAX_PAGE_BYTES = 4_000_000  # the HTML of a page, its sweeps' payloads and figures included


# --------------------------------------------------------------------------------------------
# the build (shared with tests/test_browser.py)


def _source_files() -> Iterator[Path]:
    for name in SOURCES:
        p = ROOT / name
        if p.is_file():
            yield p
        elif p.is_dir():
            for f in p.rglob("*"):
                if f.is_file() and not {"__pycache__", ".ipynb_checkpoints"} & set(f.parts):
                    yield f


def build_is_fresh() -> bool:
    """True if the last build in ``_build/test-html`` succeeded and is newer than every source.

    ``STAMP`` is written after a successful -W build only (a failed one, with keep-going, still
    writes pages) and removed before every build.
    """
    if not (STAMP.is_file() and (HTML / "index.html").is_file()):
        return False
    newest = max(f.stat().st_mtime for f in _source_files())
    return STAMP.stat().st_mtime > newest


@functools.cache
def built_html() -> Path:
    """The built book (build it, -W, unless a fresh build is there), once per test process.

    A file lock keeps pytest-xdist workers (and tests/test_book.py) from building at once.
    """
    BUILD.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(BUILD.parent / "test-html.lock"), timeout=600):
        if not build_is_fresh():
            STAMP.unlink(missing_ok=True)
            env = {**os.environ, "NBCODE_SWEEP": "static", "TQDM_DISABLE": "1", "NO_COLOR": "1"}
            cmd = [sys.executable, str(ROOT / "scripts" / "build_book.py"), "--execute", "off", "-W", "--out", str(BUILD)]
            res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
            if res.returncode != 0 or not (HTML / "index.html").is_file():
                pytest.fail(f"the book does not build warning-free:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
            STAMP.write_text("built with -W by tests/test_html.py\n")
    return HTML


def book_pages() -> list[str]:
    """Every page of the book (``_toc.yml``, in book order) as a path relative to the HTML root."""
    return [p.relative_to(ROOT).with_suffix(".html").as_posix() for p in toc_files(ROOT)]


def notebook_pages() -> list[str]:
    return [p.relative_to(ROOT).with_suffix(".html").as_posix() for p in toc_files(ROOT) if p.suffix == ".ipynb"]


def source_of(page: str) -> Path:
    return next(p for p in toc_files(ROOT) if p.relative_to(ROOT).with_suffix(".html").as_posix() == page)


# --------------------------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="module")
def html() -> Path:
    return built_html()


_soups: dict[Path, BeautifulSoup] = {}


def soup(path: Path) -> BeautifulSoup:
    if path not in _soups:
        _soups[path] = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    return _soups[path]


def attr(el: Tag, name: str) -> str:
    """An attribute as one string ("" if absent; multi-valued ones such as class joined)."""
    value = el.get(name)
    return value if isinstance(value, str) else " ".join(value or [])


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme and parts.scheme not in ("data", "mailto") or parts.netloc or url.startswith("//"))


def local_target(page: Path, url: str) -> tuple[Path, str]:
    parts = urlsplit(url)
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    return target, unquote(parts.fragment)


def resources(doc: BeautifulSoup) -> Iterator[tuple[str, str]]:
    """(tag, url) of everything a page loads by itself."""
    for tag, name in (("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
                      ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")):
        for el in doc.find_all(tag):
            url = attr(el, name)
            if not url:
                continue
            if tag == "link" and not {"stylesheet", "preload", "icon", "modulepreload", "manifest"} & set(attr(el, "rel").split()):
                continue
            yield tag, url


CONTENT = "article.bd-article"


# --------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("page", book_pages())
def test_page_loads_nothing_from_the_network(html: Path, page: str) -> None:
    doc = soup(html / page)
    external = [f"<{tag}> {url}" for tag, url in resources(doc) if is_external(url)]
    assert not external, f"{page} loads from the network: {external}"
    for el in doc.find_all("style"):
        assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import", el.text), f"{page}: inline style loads {el.text[:200]}"
    missing = [url for _, url in resources(doc) if not is_external(url) and not url.startswith("data:")
               and not local_target(html / page, url)[0].is_file()]
    assert not missing, f"{page} refers to files the build does not have: {missing}"


def test_stylesheets_load_nothing_from_the_network(html: Path) -> None:
    bad = []
    for css in (html / "_static").rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        bad += [f"{css.relative_to(html)}: {m.group(0)}" for m in re.finditer(r"url\(\s*['\"]?(https?:)?//[^)]*\)|@import[^;]*(https?:)?//[^;]*;", text)]
    assert not bad, bad


@pytest.mark.parametrize("page", book_pages())
def test_page_weight_and_no_launcher(html: Path, page: str) -> None:
    path = html / page
    doc = soup(path)
    scripts = [urlsplit(attr(el, "src")).path for el in doc.find_all("script", src=True)]
    assert len(scripts) <= MAX_SCRIPTS, f"{page} has {len(scripts)} scripts: {scripts}"
    vendored = [s for s in scripts if "_static/mathjax/" in s and not s.endswith(MATHJAX)]
    assert not vendored, f"{page} includes vendored files as scripts: {vendored}"
    weight = sum(
        local_target(path, url)[0].stat().st_size
        for tag, url in resources(doc) if tag in ("script", "link") and not is_external(url) and not url.startswith("data:"))
    assert weight < MAX_ASSET_BYTES, f"{page} loads {weight / 1e6:.1f} MB of scripts and stylesheets"
    assert path.stat().st_size <= MAX_PAGE_BYTES, f"{page} is {path.stat().st_size / 1e6:.2f} MB (budget {MAX_PAGE_BYTES / 1e6:.0f} MB a page)"
    text = path.read_text(encoding="utf-8")
    for marker in ("THEBE_JS_URL", "thebe-config", "thebe-launch", "launch-buttons", "mybinder.org", "colab.research.google.com", "require.min.js", "embed-amd.js"):
        assert marker not in text, f"{page} has {marker!r}: the book promises no hosted launcher and loads no widget manager"


@pytest.mark.parametrize("page", book_pages())
def test_internal_links_and_citations_resolve(html: Path, page: str) -> None:
    path = html / page
    doc = soup(path)
    broken = []
    for a in doc.find_all("a", href=True):
        href = attr(a, "href")
        if is_external(href) or href.startswith(("mailto:", "javascript:")) or href == "#":
            continue
        target, frag = local_target(path, href)
        if not target.is_file():
            broken.append(href)
        elif frag and target.suffix == ".html" and not soup(target).find(id=frag):
            broken.append(href)
    assert not broken, f"{page} has links to nowhere: {broken}"
    assert not doc.select(f"{CONTENT} .xref.std-ref:not(a .xref)"), f"{page} has unresolved cross-references"
    if "{cite" in source_of(page).read_text(encoding="utf-8"):
        cites = [attr(a, "href") for a in doc.select(f"{CONTENT} a[href]") if BIB_PAGE.split("/")[-1] + "#" in attr(a, "href")]
        assert cites, f"{page} cites papers but links to no bibliography entry"


def test_bibliography(html: Path) -> None:
    from pybtex.database import parse_file

    entries = parse_file(str(ROOT / "book" / "references.bib")).entries
    doc = soup(html / BIB_PAGE)
    shown = doc.select('[role="doc-biblioentry"]')
    assert shown, "the bibliography page lists no references"
    if ":all:" in (ROOT / "book" / "references.md").read_text(encoding="utf-8"):
        assert len(shown) == len(entries)
    assert all(el.get("id") for el in shown)


@pytest.mark.parametrize("page", book_pages())
def test_navigation(html: Path, page: str) -> None:
    """Previous/next links follow the table of contents; the page table of contents is there."""
    pages = book_pages()
    i = pages.index(page)
    doc = soup(html / page)
    nxt, prv = doc.select_one("a.right-next"), doc.select_one("a.left-prev")
    here = (html / page).parent
    if i + 1 < len(pages):
        assert nxt is not None and (here / attr(nxt, "href")).resolve() == (html / pages[i + 1]).resolve(), f"{page}: next link"
    else:
        assert nxt is None
    if i > 0:
        assert prv is not None and (here / attr(prv, "href")).resolve() == (html / pages[i - 1]).resolve(), f"{page}: previous link"
    sections = [s.get("id") for s in doc.select(f"{CONTENT} section > section")]
    if len(sections) >= 2:
        toc = doc.select("nav.page-toc a.nav-link")
        assert {attr(a, "href").lstrip("#") for a in toc} >= {s for s in sections if s and doc.select_one(f"{CONTENT} section#{s} > h2")}, \
            f"{page}: the page table of contents misses sections"
    assert doc.select_one('input[name="q"], .search-button, button[aria-label*="Search"]') is not None, f"{page}: no search box"


@pytest.mark.parametrize("page", notebook_pages())
def test_notebook_page_offers_download_and_local_run(html: Path, page: str) -> None:
    doc = soup(html / page)
    src = source_of(page).relative_to(ROOT).as_posix()
    links = [attr(a, "href") for a in doc.select("a.btn-download-source-button[href]") if attr(a, "href").endswith(".ipynb")]
    assert links, f"{page}: no download button for the notebook"
    nb = nbformat.read(str(local_target(html / page, links[0])[0]), as_version=4)
    nbformat.validate(nb)
    note = doc.select(f"{CONTENT} .admonition.nbcode-run")
    assert len(note) == 1, f"{page}: expected one 'Run this chapter' note"
    text = " ".join(note[0].get_text().split())
    assert "make lab" in text and src in text, text


@pytest.mark.parametrize("page", book_pages())
def test_figures_have_alt_text_and_captions(html: Path, page: str) -> None:
    """Every image is a figure with a caption and alt text; every sweep has labelled sliders.

    For a plot in a notebook, give its code cell the metadata
    ``"mystnb": {"image": {"alt": "..."}, "figure": {"caption": "...", "name": "fig-..."}}``.
    """
    doc = soup(html / page)
    fix = 'give the cell metadata "mystnb": {"image": {"alt": ...}, "figure": {"caption": ..., "name": ...}}'
    problems = []
    for img in doc.select(f"{CONTENT} img"):
        alt = attr(img, "alt").strip()
        figure = img.find_parent("figure")
        caption = figure.select_one("figcaption") if figure is not None else None
        if not alt or re.search(r"\.(png|jpe?g|svg|gif)$", alt, re.I):
            problems.append(f"image {attr(img, 'src')} has no alt text (alt={alt!r})")
        if caption is None or not caption.get_text(strip=True):
            problems.append(f"image {attr(img, 'src')} is not a figure with a caption")
    for fig in doc.select(f"{CONTENT} figure"):
        caption = fig.select_one("figcaption")
        if caption is None or not caption.get_text(strip=True):
            problems.append(f"figure {attr(fig, 'id')} has no caption")
    assert not problems, f"{page}: " + "; ".join(problems) + f" ({fix})"
    for sweep in doc.select("div.nbcode-sweep"):
        assert sweep.select_one("script.nbcode-sweep-data"), f"{page}: sweep without its frames"
        for inp in sweep.select("[data-sweep-control]"):
            assert attr(inp, "aria-label"), f"{page}: sweep control without a label"


@pytest.mark.parametrize("page", book_pages())
def test_math_is_set_up_locally(html: Path, page: str) -> None:
    doc = soup(html / page)
    if doc.select(f"{CONTENT} .math"):
        srcs = [urlsplit(attr(el, "src")).path for el in doc.find_all("script", src=True)]
        assert any(s.endswith(MATHJAX) for s in srcs), f"{page} has math but no local MathJax: {srcs}"
        assert (html / MATHJAX).is_file()


def test_search_index_covers_every_page(html: Path) -> None:
    text = (html / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1: text.rindex(")")])
    docnames = set(index["docnames"])
    assert {p.removesuffix(".html") for p in book_pages()} <= docnames
    assert (html / "search.html").is_file()
