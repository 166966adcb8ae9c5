"""The HTML book in a real browser (headless Chromium via Playwright), with the network cut off.

The built book (see tests/test_html.py) is served from a local ``http.server`` thread; every
request to anything but that server is aborted and recorded. Every page of ``_toc.yml`` must load
with no failed request and no console error, show its math typeset by the local MathJax (no raw
TeX left), load every image, give every code cell a copy button, and redraw each live sweep when
a slider or choice moves. A screenshot of each page (its top) and of each sweep goes to
``_build/screenshots/``.

Needs Chromium and ``playwright`` (pinned in requirements.txt; Playwright's own browser download
is never used). Without them the tests skip, except in CI (``CI=true``), where they fail:
``scripts/ensure_chromium.sh`` installs Debian's ``chromium`` there.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

import pytest

from booktools import CHROMIUM_ARGS, find_chromium
from test_html import ROOT, book_pages, built_html

SCREENSHOTS = ROOT / "_build" / "screenshots"
LAUNCH_ARGS = CHROMIUM_ARGS
HOW_TO_ENABLE = (
    "install Chromium and Playwright for Python to run the browser tests: "
    "`sudo apt-get install chromium` (or set CHROMIUM=/path/to/chromium) and "
    "`pip install -r requirements.txt` (playwright); Playwright's own browser download is not needed"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"browser tests cannot run in CI: {reason} (scripts/ensure_chromium.sh installs Chromium)")
    pytest.skip(f"{reason}: {HOW_TO_ENABLE}")


# --------------------------------------------------------------------------------------------
# fixtures: the built book on localhost, one browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    html = built_html()
    handler = functools.partial(_QuietHandler, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    exe = find_chromium()
    if exe is None:
        _unavailable("no Chromium found")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=exe, headless=True, args=LAUNCH_ARGS,
            viewport={"width": 1280, "height": 900}, service_workers="block",
        )
        try:
            yield context
        finally:
            context.close()


class PageLog:
    """Everything that went wrong while a page loaded."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.pending: set[Any] = set()

    def route(self, route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def attach(self, page: Any) -> None:
        page.route("**/*", self.route)
        page.on("request", self.on_request)
        page.on("requestfinished", self.on_finished)
        page.on("requestfailed", self.on_failed)
        page.on("response", self.on_response)
        page.on("console", self.on_console)
        page.on("pageerror", self.on_error)

    def settle(self, page: Any, timeout: float = 30.0) -> None:
        """Wait until no request of the page is in flight (fetches made by scripts included)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert not self.pending, f"requests still pending after {timeout} s: {[r.url for r in self.pending]}"

    def on_request(self, request: Any) -> None:
        self.pending.add(request)

    def on_finished(self, request: Any) -> None:
        self.pending.discard(request)

    def on_failed(self, request: Any) -> None:
        self.pending.discard(request)
        if request.url not in self.blocked:
            self.failed.append(f"{request.url}: {request.failure}")

    def on_response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.url}: HTTP {response.status}")

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} @ {message.location}")

    def on_error(self, error: Any) -> None:
        self.errors.append(f"uncaught: {error}")

    def problems(self) -> list[str]:
        return [f"blocked (network): {u}" for u in self.blocked] + [f"failed: {u}" for u in self.failed] + self.errors


def open_page(browser: Any, server: str, path: str) -> tuple[Any, PageLog]:
    log = PageLog(server)
    page = browser.new_page()
    log.attach(page)
    page.goto(f"{server}/{path}", wait_until="load")
    page.evaluate(WAIT_READY)
    page.wait_for_load_state("networkidle", timeout=120_000)  # generous: a busy CI machine
    return page, log


# MathJax typesets after its deferred script runs; fonts and lazy images load after that.
WAIT_READY = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await Promise.all(Array.from(document.images).map(img => {
    img.loading = "eager";
    return img.decode().catch(() => null);
  }));
  await document.fonts.ready;
  return true;
}"""

INSPECT = """() => {
  const main = document.querySelector("article.bd-article") || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll("pre, code, script, style, mjx-container, .nbcode-sweep-data").forEach(e => e.remove());
  return {
    text: clone.innerText,
    math: main.querySelectorAll(".math").length,
    mathjax: main.querySelectorAll("mjx-container").length,
    merror: main.querySelectorAll("mjx-merror, .MathJax_Error").length,
    images: Array.from(document.images).map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    codeBlocks: main.querySelectorAll("div.highlight").length,
    copyButtons: main.querySelectorAll("div.highlight button.copybtn").length,
    sweeps: main.querySelectorAll("div.nbcode-sweep").length,
  };
}"""

SWEEP_STATE = """(root) => {
  const svg = root.querySelector(".nbcode-sweep-figure svg");
  return {
    // clip-path ids are random per drawing: take them out, so that only a new frame differs
    svg: svg ? svg.outerHTML.replace(/nbclip[a-z0-9]+/g, "nbclip") : null,
    role: svg ? svg.getAttribute("role") : null,
    label: svg ? svg.getAttribute("aria-label") : null,
    caption: (root.querySelector(".nbcode-sweep-caption") || {}).textContent || "",
    outputs: Array.from(root.querySelectorAll("output")).map(o => o.textContent),
    controls: root.querySelectorAll("[data-sweep-control]").length,
  };
}"""

MOVE_CONTROL = """([root, k]) => {
  // a slider jumps to its other end (event "input"); a choice to another option ("change")
  const el = root.querySelectorAll("[data-sweep-control]")[k];
  if (el.tagName === "SELECT") {
    if (el.options.length < 2) return null;
    const old = el.selectedIndex;
    el.selectedIndex = (old + 1) % el.options.length;
    el.dispatchEvent(new Event("change", {bubbles: true}));
    return ["select", old, el.selectedIndex];
  }
  const lo = Number(el.min), hi = Number(el.max), v = Number(el.value);
  if (lo === hi) return null;
  el.value = String(v === hi ? lo : hi);
  el.dispatchEvent(new Event("input", {bubbles: true}));
  return ["range", v, Number(el.value)];
}"""


RESTORE_CONTROL = """([root, k, old]) => {
  // put control k back where it was, so that every control is tried from the initial state
  // (a control may matter only in some states of the others, e.g. GroupNorm's number of groups)
  const el = root.querySelectorAll("[data-sweep-control]")[k];
  if (el.tagName === "SELECT") {
    el.selectedIndex = old;
    el.dispatchEvent(new Event("change", {bubbles: true}));
  } else {
    el.value = String(old);
    el.dispatchEvent(new Event("input", {bubbles: true}));
  }
}"""


def screenshot_name(path: str) -> str:
    return Path(path).with_suffix("").as_posix().replace("/", "_").removeprefix("book_")


# --------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("path", book_pages())
def test_page_in_browser(browser: Any, server: str, path: str) -> None:
    page, log = open_page(browser, server, path)
    try:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = screenshot_name(path)
        # the top of the page (a full-page screenshot of a long chapter takes seconds)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        info = page.evaluate(INSPECT)

        # math: typeset by the local MathJax, no raw TeX left in the visible text
        for raw in ("$$", "\\(", "\\)", "\\[", "\\]", "\\begin{", "\\frac"):
            assert raw not in info["text"], f"{path}: raw TeX {raw!r} in the visible text"
        if info["math"]:
            assert info["mathjax"] >= info["math"], f"{path}: {info['math']} math elements, {info['mathjax']} typeset"
        assert info["merror"] == 0, f"{path}: {info['merror']} MathJax errors"

        broken = [img["src"][:120] for img in info["images"] if not img["ok"]]
        assert not broken, f"{path}: images that did not load: {broken}"
        assert info["copyButtons"] == info["codeBlocks"], f"{path}: code blocks without a copy button"

        # live sweeps: every control redraws the figure
        for i, root in enumerate(page.query_selector_all("article.bd-article div.nbcode-sweep")):
            root.scroll_into_view_if_needed()
            before = root.evaluate(SWEEP_STATE)
            assert before["svg"], f"{path}: sweep {i} drew no figure"
            assert before["role"] == "img" and before["label"], f"{path}: sweep {i}'s figure has no role=img / aria-label"
            root.screenshot(path=str(SCREENSHOTS / f"{name}-sweep{i}.png"))
            assert before["controls"], f"{path}: sweep {i} has no controls"
            for k in range(before["controls"]):
                moved = page.evaluate(MOVE_CONTROL, [root, k])
                if moved is None:  # a control with one position
                    continue
                kind, old, new = moved
                after = root.evaluate(SWEEP_STATE)
                assert after["svg"] != before["svg"], f"{path}: sweep {i}, {kind} {k} moved {old} -> {new}, figure unchanged"
                if kind == "range":
                    assert after["outputs"] != before["outputs"], f"{path}: sweep {i}, slider {k}: value display unchanged"
                page.evaluate(RESTORE_CONTROL, [root, k, old])
                assert root.evaluate(SWEEP_STATE)["svg"] == before["svg"], f"{path}: sweep {i}, control {k} not restored"
        log.settle(page)
        assert not log.problems(), f"{path}:\n" + "\n".join(log.problems())
    finally:
        page.close()


def test_search_finds_every_page(browser: Any, server: str) -> None:
    """Sphinx's client-side search (search.html?q=...) finds each page by its title."""
    from bs4 import BeautifulSoup

    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    html = built_html()
    log = PageLog(server)
    page = browser.new_page()
    log.attach(page)
    try:
        for path in book_pages():
            doc = BeautifulSoup((html / path).read_text(encoding="utf-8"), "html.parser")
            h1 = doc.select_one("article.bd-article h1")
            assert h1 is not None, f"{path} has no title"
            query = " ".join(h1.get_text(" ").replace("#", " ").split())
            page.goto(f"{server}/search.html?q={quote_plus(query)}", wait_until="load")
            try:  # results appear one by one (Sphinx fetches each hit for its summary)
                page.wait_for_function(SEARCH_FOUND, arg=f"/{path}", timeout=30_000)
            except PlaywrightTimeout:
                hits = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
                pytest.fail(f"search for {query!r} does not find {path}: {hits}")
            page.wait_for_function(SEARCH_DONE, timeout=30_000)
            log.settle(page)  # leaving while Sphinx fetches the hits' summaries would abort them
        page.screenshot(path=str(SCREENSHOTS / "search.png"))
        assert not log.problems(), "\n".join(log.problems())
    finally:
        page.close()


SEARCH_DONE = """() => /Search finished/.test(
  (document.querySelector("#search-results .search-summary") || {}).textContent || "")"""
SEARCH_FOUND = """(path) => Array.from(document.querySelectorAll("#search-results ul.search li a"))
  .some(a => new URL(a.href).pathname === path)"""


def test_front_page_opens_the_book(browser: Any, server: str) -> None:
    """``index.html`` (what a reader opens first) leads to the first page of the table of contents."""
    log = PageLog(server)
    page = browser.new_page()
    log.attach(page)
    try:
        page.goto(f"{server}/index.html")
        page.wait_for_url(f"**/{book_pages()[0]}", timeout=10_000)
        page.wait_for_load_state("networkidle")
        log.settle(page)
        assert not log.problems(), "\n".join(log.problems())
    finally:
        page.close()


PLAY_RECORD = """(root) => {
  // record every caption the figure shows from now on
  window.__captions = [];
  const cap = root.querySelector(".nbcode-sweep-caption");
  new MutationObserver(() => window.__captions.push(cap.textContent)).observe(cap, {childList: true, characterData: true, subtree: true});
}"""


def test_play_button_steps_a_slider(browser: Any) -> None:
    """A slider with ``play=True``: the button draws every position in turn up to the last, then
    stops; pressed again at the end it starts over; pressed while playing it pauses."""
    from test_sweep_play import draw_path

    from nbcode.sweep import Choice, Slider, sweep

    html = sweep(draw_path, k=Slider(values=range(6), integer=True, value=0, play=True, interval=40),
                 kind=Choice(["a", "b"])).to_html()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.set_content(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{html}</body></html>")
        root = page.query_selector("div.nbcode-sweep")
        button = root.query_selector("button[data-sweep-play]")
        slider = root.query_selector("input[data-sweep-control='k']")
        assert button.get_attribute("aria-pressed") == "false" and slider.input_value() == "0"
        root.evaluate(PLAY_RECORD)
        button.click()
        page.wait_for_function("() => document.querySelector('div.nbcode-sweep').getAttribute('data-playing') === '0'",
                               timeout=10_000)
        assert slider.input_value() == "5" and root.query_selector("output").text_content() == "5"
        assert page.evaluate("() => window.__captions") == [f"k = {k}, a" for k in range(1, 6)]
        assert button.get_attribute("aria-pressed") == "false" and button.get_attribute("aria-label") == "play k"
        # at the end: play again from the start; a second press pauses (a slower player, so that
        # the press lands before the end even on a busy machine)
        slow = sweep(draw_path, k=Slider(values=range(6), integer=True, value=5, play=True, interval=1000),
                     kind=Choice(["a", "b"])).to_html()
        page.set_content(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{slow}</body></html>")
        root = page.query_selector("div.nbcode-sweep")
        button = root.query_selector("button[data-sweep-play]")
        slider = root.query_selector("input[data-sweep-control='k']")
        root.evaluate(PLAY_RECORD)
        button.click()
        assert button.get_attribute("aria-pressed") == "true"
        page.wait_for_function("() => window.__captions.length >= 2", timeout=10_000)
        button.click()
        paused = slider.input_value()
        page.wait_for_timeout(200)
        assert button.get_attribute("aria-pressed") == "false" and slider.input_value() == paused != "5"
        assert page.evaluate("() => window.__captions")[0] == "k = 0, a"
        assert not errors, errors
    finally:
        page.close()
