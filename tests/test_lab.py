"""`make lab` as a reader meets it: JupyterLab runs the intro and its sweep is live.

JupyterLab is started on localhost in a scratch copy of book/ (so nothing in the repository is
touched), headless Chromium opens the intro, runs all cells, and moves the sweep's slider; the
kernel must recompute the frame (the caption changes and the live status line appears). Skips
without Chromium/Playwright on a reader's machine; fails instead in CI (``CI=true``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_browser import LAUNCH_ARGS, _unavailable, find_chromium

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
TOKEN = "nbcode-lab-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "book" / "intro.ipynb", work / "intro.ipynb")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "NBCODE_SWEEP"}  # live mode, as for a reader
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=work,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_intro_sweep_is_live_in_jupyterlab(lab: str) -> None:
    chromium = find_chromium()
    if chromium is None:
        _unavailable("no Chromium found")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{lab}/lab/tree/intro.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook", timeout=90_000)
        page.wait_for_selector(".jp-Notebook-cell", timeout=90_000)
        # the kernel must be up before "Run All", or the requests can be lost on a slow machine
        page.wait_for_function(
            "() => document.body.innerText.includes('Python 3 (ipykernel) | Idle')", timeout=90_000
        )
        page.locator(".jp-Notebook").first.click()
        page.keyboard.press("Escape")
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_selector(".jp-OutputArea .nbcode-sweep-svg", timeout=120_000)
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / "lab-intro-run.png"))
            errors_shown = page.locator("[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
            raise AssertionError(f"the sweep did not appear; error outputs: {errors_shown}; console: {errors}")
        output = page.locator(".jp-OutputArea-output:has(.nbcode-sweep-svg)").first
        # JupyterLab renders cells lazily: bring the output on screen before reading its text
        output.scroll_into_view_if_needed()
        try:
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                ".some(e => e.innerText.includes('η = 0.30') && e.innerText.includes('recomputed in'))",
                timeout=30_000,
            )
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / "lab-intro-run.png"))
            raise AssertionError(f"the sweep shows no caption for η = 0.30: {output.inner_text()[:300]!r}")
        handle = page.locator(".widget-slider .noUi-handle").first
        handle.scroll_into_view_if_needed()
        handle.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-OutputArea-output')].some(e => e.innerText.includes('η = 0.55'))",
            timeout=30_000,
        )
        page.screenshot(path=str(SCREENSHOTS / "lab-intro.png"))
        assert "oscillating" in output.inner_text()
        assert not errors, errors
        browser.close()
