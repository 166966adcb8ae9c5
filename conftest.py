"""pytest set-up for the whole repository.

* nbval runs over exactly the notebooks listed in ``_toc.yml`` (a chapter added to the book is
  tested the moment it is added); other ``.ipynb`` files are not collected.
* Sweeps render their precomputed static form, and progress bars stay quiet, so that outputs
  are reproducible (the Makefile sets the same variables).
* Each xdist worker computes on one thread (BLAS and torch): two workers on two cores, each
  multi-threaded, would oversubscribe the machine.
* The kernels that nbval starts for the notebooks run in a reduced numeric configuration
  (``check_reproducible.REDUCED``: one thread for NumPy, torch and Numba, torch's baseline
  kernels, MKL held to SSE4.2), while ``make outputs`` makes the committed outputs in the
  machine's own configuration: every test run compares two configurations, for the price of one
  execution per notebook. ``NBCODE_KERNEL_CONFIG=machine`` runs the kernels in the machine's own
  configuration instead.
* A mismatching output is reported by ``scripts/compare_outputs.py``: for a sweep, the frame,
  panel, series and the two values; for text, a short line diff. nbval's own report is a
  character diff, which takes minutes on a sweep's megabyte of HTML.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent
# The book's tooling (booktools: the table of contents, Chromium) and the short mismatch report
# (nbval_report) live in scripts/, outside the library.
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("NBCODE_SWEEP", "static")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

_in_book: set[Path] | None = None


def pytest_configure(config: Any) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)  # a runtime limit in this process, not an environment variable
        torch.set_num_threads(1)
    if config.getoption("nbval", default=False) and os.environ.get("NBCODE_KERNEL_CONFIG", "reduced") == "reduced":
        _start_kernels_in_reduced_configuration()


def _start_kernels_in_reduced_configuration() -> None:
    """nbval starts each notebook's kernel through ``nbval.kernel.start_new_kernel``; give it the
    reduced configuration's environment (the test process's own environment is not changed)."""
    import nbval.kernel
    from check_reproducible import REDUCED

    start = nbval.kernel.start_new_kernel
    if getattr(start, "reduced", False):
        return

    def start_new_kernel(*args: Any, **kwargs: Any) -> Any:
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
        return start(*args, env={**env, **REDUCED}, **kwargs)

    start_new_kernel.reduced = True  # type: ignore[attr-defined]
    nbval.kernel.start_new_kernel = start_new_kernel


def pytest_ignore_collect(collection_path: Path, config: object) -> bool | None:
    global _in_book
    if collection_path.suffix != ".ipynb":
        return None
    if _in_book is None:
        from booktools import toc_notebooks

        _in_book = set(toc_notebooks(ROOT))
    return collection_path.resolve() not in _in_book


@pytest.fixture(scope="module")
def one_torch_thread() -> Any:
    """For modules of small models: one torch thread is faster, and on a busy machine far faster
    (two OpenMP threads spin against each other when the cores are taken)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
    """Keep each file on one xdist worker: a notebook's cells share one kernel, and a test
    module's fixtures are built once."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid.split("::", 1)[0]

    return ByFile(config, log)


# The short mismatch report (scripts/nbval_report.py), also loadable on its own with -p.
pytest_plugins = ["nbval_report"]
