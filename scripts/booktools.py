"""Book tooling (not part of the library): which notebooks the book has, read from ``_toc.yml``,
and the headless Chromium that shows its pages.

Used by ``conftest.py`` (nbval runs exactly the notebooks of the table of contents), the tests
of the built book, and the scripts (executing notebooks, checking reproducibility, the
benchmark). ``nbcode`` never imports it: it needs ``yaml``, which the library does not declare.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

__all__ = ["toc_files", "toc_notebooks", "find_chromium", "CHROMIUM_ARGS"]

#: Command-line flags for a headless Chromium that runs offline and quietly.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def _walk(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                out.append(node[key])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                _walk(child, out)
    elif isinstance(node, list):
        for child in node:
            _walk(child, out)


def toc_files(root: Path) -> list[Path]:
    """Every document named in ``root/_toc.yml``, in book order, resolved to an existing file."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    stems: list[str] = []
    _walk(toc, stems)
    files = []
    for stem in stems:
        hits = [p for p in (root / stem, root / f"{stem}.ipynb", root / f"{stem}.md") if p.is_file()]
        if not hits:
            raise ValueError(f"_toc.yml names {stem!r}, which is not there")
        files.append(hits[0].resolve())
    return files


def toc_notebooks(root: Path) -> list[Path]:
    """The notebooks of the book, in book order."""
    return [p for p in toc_files(root) if p.suffix == ".ipynb"]


def find_chromium() -> str | None:
    """The Chromium to use: ``$CHROMIUM`` if set, else the first on ``PATH`` (Debian's ``chromium``
    first); None when there is none. Playwright's own browser download is never used."""
    candidates = [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
    for name in candidates:
        if name and (path := shutil.which(name)):
            return path
    return None
