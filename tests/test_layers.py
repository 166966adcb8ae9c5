"""The layers of nbcode: topic packages hold algorithms, chapter experiments sit above them.

* importing the NumPy optimizers and schedules does not import torch (nor scikit-learn, tqdm);
* no topic package imports, or re-exports, ``nbcode.experiments``;
* the library does not import the book's tooling (``yaml``) or import itself in a circle
  (``nbcode.sweep.core`` and ``nbcode.sweep.live``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nbcode"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_optim_and_schedules_import_numpy_only() -> None:
    r = _run("import nbcode.optim, nbcode.schedules, sys; "
             "heavy = sorted(m for m in ('torch', 'sklearn', 'tqdm', 'matplotlib', 'yaml') if m in sys.modules); "
             "assert not heavy, heavy")
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.mark.parametrize("module", ["nbcode.quadratic", "nbcode.surfaces", "nbcode.stochastic", "nbcode.norm"])
def test_numpy_topics_do_not_import_torch(module: str) -> None:
    r = _run(f"import {module}, sys; assert 'torch' not in sys.modules")
    assert r.returncode == 0, r.stderr[-2000:]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_topics_never_import_the_experiments() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if "experiments" not in p.relative_to(PACKAGE).parts
        and any(m == "nbcode.experiments" or m.startswith("nbcode.experiments.") for m in _imports(p))
    ]
    assert offenders == []


def test_the_library_does_not_import_yaml_and_sweep_has_no_cycle() -> None:
    uses_yaml = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if "yaml" in _imports(p)]
    assert uses_yaml == []
    # core shows the live view (it imports live when a widget is made); live needs only the renderer
    live = _imports(PACKAGE / "sweep" / "live.py")
    assert "nbcode.sweep.assets" in live and not any(m.startswith("nbcode.sweep.core") for m in live)


def test_experiments_package_imports_no_experiment() -> None:
    """``import nbcode.experiments`` loads none of the chapter modules (each is imported on its own)."""
    r = _run("import nbcode.experiments, sys; "
             "assert not [m for m in sys.modules if m.startswith('nbcode.experiments.')]")
    assert r.returncode == 0, r.stderr[-2000:]
