"""A saved checkup report in headless Chromium with the network cut off, as the book's pages are
checked: it loads nothing, logs no error, and shows its tables and figures.

Needs Chromium and Playwright (see tests/test_browser.py); skips without them, fails in CI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nbcode.checkup import Monitor, checkup

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# small models: one torch thread is faster (the fixture is in conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")



def _browser_or_skip() -> tuple[Any, str, list[str]]:
    from booktools import CHROMIUM_ARGS, find_chromium

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        (pytest.fail if IN_CI else pytest.skip)("playwright is not installed")
    exe = find_chromium()
    if exe is None:
        (pytest.fail if IN_CI else pytest.skip)("no Chromium found (scripts/ensure_chromium.sh installs it)")
    return sync_playwright, str(exe), CHROMIUM_ARGS


def _page_problems(path: Path) -> dict[str, Any]:
    sync_playwright, exe, args = _browser_or_skip()
    blocked: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=args)
        try:
            page = browser.new_page()

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(("file:", "data:")):
                    r.continue_()
                else:
                    blocked.append(url)
                    r.abort("blockedbyclient")

            page.route("**/*", route)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.alt])")
            captions = page.eval_on_selector_all("figure figcaption", "els => els.map(e => e.textContent)")
            tables = page.eval_on_selector_all("table", "els => els.map(e => e.getBoundingClientRect().height)")
            text = page.inner_text("body")
        finally:
            browser.close()
    return {"blocked": blocked, "errors": errors, "images": images, "captions": captions, "tables": tables, "text": text}


def test_saved_report_opens_offline_in_chromium(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3)).double()
    X, y = torch.randn(96, 6, dtype=torch.float64), torch.randint(0, 3, (96,))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    rep = checkup(net, [(X[i:i + 32], y[i:i + 32]) for i in range(0, 96, 32)], F.cross_entropy, opt, progress=False)
    out = _page_problems(rep.save_html(tmp_path / "checkup.html"))
    assert not out["blocked"] and not out["errors"], out
    assert len(out["images"]) >= 3 and all(ok and width > 0 and alt for ok, width, alt in out["images"])
    assert len(out["captions"]) == len(out["images"])
    assert out["tables"] and all(h > 0 for h in out["tables"])
    assert "λ_max" in out["text"] and "consistent" in out["text"]


def test_saved_monitor_report_opens_offline_in_chromium(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Linear(3, 1).double()
    X, y = torch.randn(32, 3, dtype=torch.float64), torch.randn(32, 1, dtype=torch.float64)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    mon = Monitor(net, [(X, y)], F.mse_loss, opt)
    for _ in range(3):
        mon()
        opt.zero_grad()
        F.mse_loss(net(X), y).backward()
        opt.step()
    out = _page_problems(mon.report().save_html(tmp_path / "monitor.html"))
    assert not out["blocked"] and not out["errors"], out
    assert len(out["images"]) == 1 and out["images"][0][1] > 0
