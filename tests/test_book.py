"""The book as a whole: its table of contents, its committed notebooks, its strict HTML build,
and the regression suite itself (a changed stored output must make nbval fail)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from booktools import toc_files, toc_notebooks
from test_html import built_html

ROOT = Path(__file__).resolve().parents[1]
MAX_SWEEP_KB = 400  # the HTML (payload included) of one sweep in a notebook


def test_every_notebook_is_in_the_book_and_back() -> None:
    in_toc = set(toc_notebooks(ROOT))
    on_disk = {p.resolve() for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    assert on_disk == in_toc, "every notebook under book/ must be listed in _toc.yml (and exist)"
    assert toc_files(ROOT)[0].name == "intro.ipynb"


@pytest.mark.parametrize("path", toc_notebooks(ROOT), ids=lambda p: p.name)
def test_notebook_is_committed_executed_in_order(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "\n# " in "\n" + nb.cells[0].source, "open with a title"
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "re-run the notebook top to bottom (make outputs)"
    for c in code:
        for out in c.outputs:
            assert out.output_type != "error", f"error output in {path.name}"
            assert not (out.output_type == "stream" and out.name == "stderr"), f"stderr output in {path.name}: {out.text[:200]}"
            html = out.get("data", {}).get("text/html", "") if out.output_type in ("display_data", "execute_result") else ""
            html = "".join(html) if isinstance(html, list) else html
            if "nbcode-sweep" in html:
                kb = len(html.encode()) / 1024
                assert kb <= MAX_SWEEP_KB, (f"{path.name}, code cell {code.index(c)}: a sweep of {kb:.0f} KB "
                                            f"(budget {MAX_SWEEP_KB} KB; fewer frames or coarser sliders)")
    assert path.stat().st_size < 5_000_000, "keep a chapter under 5 MB"


def _bound_at_top_level(tree: ast.Module) -> set[str]:
    """Names a cell (re)binds when it runs: assignments and loop targets outside functions,
    definitions, imports."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in n.names)
    return names


def _globals_read(fn: ast.FunctionDef) -> set[str]:
    """Names a function reads but never binds itself (its globals; nested scopes merged)."""
    bound = {a.arg for a in ast.walk(fn) if isinstance(a, ast.arg)}
    read = set()
    for n in ast.walk(fn):
        if isinstance(n, ast.Name):
            (bound if isinstance(n.ctx, ast.Store) else read).add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n is not fn:
            bound.add(n.name)
    return read - bound


@pytest.mark.parametrize("path", toc_notebooks(ROOT), ids=lambda p: p.name)
def test_functions_do_not_read_globals_that_later_cells_rebind(path: Path) -> None:
    """A sweep's drawing function runs again whenever a slider moves, possibly after the reader
    has run the whole notebook: a global it reads must not be rebound by a later cell."""
    nb = nbformat.read(path, as_version=4)
    cells = [(i, ast.parse(c.source)) for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and not c.source.lstrip().startswith(("%", "!"))]
    clashes = []
    for k, (i, tree) in enumerate(cells):
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
            for j, later in cells[k + 1:]:
                for name in sorted(_globals_read(fn) & _bound_at_top_level(later)):
                    clashes.append(f"cell {i}: {fn.name}() reads {name!r}, which cell {j} rebinds")
    assert not clashes, f"{path.name}:\n" + "\n".join(clashes)


def test_strict_html_build() -> None:
    """Sphinx with warnings as errors, on the committed outputs (nbval re-executes them)."""
    html = built_html()  # the -W build into _build/test-html, shared with the HTML and browser tests
    for doc in toc_files(ROOT):
        page = html / doc.relative_to(ROOT).with_suffix(".html")
        assert page.is_file(), f"{page} was not built"
        assert page.stat().st_size < 5_000_000
    intro = (html / "book" / "intro.html").read_text()
    assert 'class="nbcode-sweep"' in intro and "window.nbcodeSweep.mount(" in intro


def _run_nbval(nb: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NBCODE_SWEEP": "static", "TQDM_DISABLE": "1"}
    # the copy lives outside the repository: load the short mismatch report as a plugin
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "scripts"), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "nbval_report", "-q",
         "--color=no", "--nbval", "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
         "--rootdir", str(nb.parent), str(nb)],
        capture_output=True, text=True, cwd=nb.parent, env=env,
    )


def test_nbval_fails_when_a_stored_number_changes(tmp_path: Path) -> None:
    """The suite is real: edit one printed number in a copy of the intro and nbval must fail on it."""
    src = ROOT / "book" / "intro.ipynb"
    bad = tmp_path / "bad"
    bad.mkdir()
    nb = json.loads(src.read_text())
    target = "0.10     monotone        0.800       0.800"
    edited = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", []))
            if target in text:
                out["text"] = text.replace(target, target[:-5] + "0.801")
                edited += 1
    assert edited == 1, "the intro's table of contraction factors moved; update this test"
    (bad / "intro.ipynb").write_text(json.dumps(nb))

    # (the unedited intro passing is the main nbval run's job)
    broken = _run_nbval(bad / "intro.ipynb")
    assert broken.returncode == 1, broken.stdout[-2000:]
    assert "1 failed" in broken.stdout and "0.801" in broken.stdout


def test_nbval_names_the_frame_and_series_when_a_sweep_changes(tmp_path: Path) -> None:
    """A sweep's numbers are checked too: scale one stored line by a visible factor (2x) and nbval
    must fail within a minute, naming the frame, the series and both values."""
    import re
    import time

    from nbcode.sweep.encode import decode_sweep

    nb = json.loads((ROOT / "book" / "intro.ipynb").read_text())
    pattern = re.compile(r'(<script type="application/json" class="nbcode-sweep-data">)(.*?)(</script>)', re.S)
    edited = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            html = "".join(out.get("data", {}).get("text/html", ""))
            m = pattern.search(html)
            if m is None or edited:
                continue
            doc = json.loads(m.group(2).replace("<\\/", "</"))
            frame0 = doc["frames"][doc["order"][0]]
            y_id = doc["panels"][frame0["axes"][0]]["lines"][-1][1]  # the iterates of the first frame
            doc["pool"][y_id]["d"] = [None if d is None else 2 * d for d in doc["pool"][y_id]["d"]]
            before = decode_sweep(m.group(2).replace("<\\/", "</"))["frames"][0]["axes"][0]["lines"][-1]["y"]
            after = decode_sweep(doc)["frames"][0]["axes"][0]["lines"][-1]["y"]
            assert [2 * v for v in before if v is not None] == [v for v in after if v is not None]
            new = m.group(1) + json.dumps(doc, separators=(",", ":")).replace("</", "<\\/") + m.group(3)
            out["data"]["text/html"] = html[: m.start()] + new + html[m.end():]
            edited += 1
    assert edited == 1, "the intro has no sweep any more; point this test at another notebook"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "intro.ipynb").write_text(json.dumps(nb))
    t0 = time.perf_counter()
    broken = _run_nbval(bad / "intro.ipynb")
    took = time.perf_counter() - t0
    assert broken.returncode == 1, broken.stdout[-2000:]
    assert took < 60, f"nbval took {took:.0f} s to report a changed sweep"
    report = broken.stdout
    k = next(i for i, v in enumerate(before) if v not in (None, 0.0))
    assert re.search(r"frame 0 \(eta=[0-9.]+\): panel 0 'iterates on L\(w\)', series 1, point \d+: y ", report), report[-3000:]
    assert f"{after[k]:.6g} -> {before[k]:.6g}" in report, report[-3000:]  # committed (edited) -> new


def test_execution_cache_is_dropped_when_nbcode_changes(tmp_path: Path) -> None:
    """`make book` caches executed notebooks; a change to nbcode must invalidate the cache."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_book
    finally:
        sys.path.pop(0)
    root = tmp_path / "repo"
    (root / "nbcode").mkdir(parents=True)
    (root / "nbcode" / "a.py").write_text("x = 1\n")
    (root / "requirements.txt").write_text("numpy==2.0\n")
    (root / "pyproject.toml").write_text("")
    build = tmp_path / "_build"
    cache = build / ".jupyter_cache"

    build_book.drop_stale_cache(build, root)  # first build: records the fingerprint
    cache.mkdir()
    build_book.drop_stale_cache(build, root)  # nothing changed: the cache stays
    assert cache.exists()
    (root / "nbcode" / "a.py").write_text("x = 2\n")
    build_book.drop_stale_cache(build, root)  # code changed: the cache goes
    assert not cache.exists()
    cache.mkdir()
    (root / "requirements.txt").write_text("numpy==2.1\n")
    build_book.drop_stale_cache(build, root)
    assert not cache.exists()
