"""The committed outputs do not depend on the machine.

nbval (conftest.py) re-executes every notebook in the configuration of the machine at hand. Here
every notebook is executed once more in a deliberately different numeric configuration (one
thread for NumPy, torch and Numba, torch's baseline kernels, MKL held to SSE4.2) and must give
the same outputs. ``scripts/check_reproducible.py`` runs more configurations by hand (other
OpenBLAS kernels, which tests never force).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from booktools import toc_notebooks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from check_reproducible import REDUCED  # noqa: E402


def nbval(nb: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """nbval on one notebook in a fresh pytest, with ``env`` added to the environment."""
    full = {**os.environ, "NBCODE_SWEEP": "static", "TQDM_DISABLE": "1", **env}
    full.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "--color=no", "--nbval",
         "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), "--nbval-cell-timeout", "300",
         str(nb.relative_to(ROOT))],
        capture_output=True, text=True, cwd=ROOT, env=full, timeout=900,
    )


def failures(stdout: str, limit: int = 6000) -> str:
    """The FAILURES section of a pytest run (what differs, where), not the whole log."""
    start = stdout.find("= FAILURES =")
    end = stdout.find("short test summary info")
    text = stdout[start:end] if start >= 0 else stdout
    return text[:limit] + ("\n..." if len(text) > limit else "")


@pytest.mark.parametrize("nb", toc_notebooks(ROOT), ids=lambda p: p.name)
def test_outputs_are_the_same_with_one_thread_and_baseline_kernels(nb: Path) -> None:
    run = nbval(nb, REDUCED)
    assert run.returncode == 0, f"{nb.name} under {REDUCED}:\n{failures(run.stdout)}"
