"""The committed outputs do not depend on the machine.

``make outputs`` executes the notebooks in the machine's own configuration; nbval (conftest.py)
re-executes them in a deliberately different one (one thread for NumPy, torch and Numba, torch's
baseline kernels, MKL held to SSE4.2), so every test run compares two configurations.
``scripts/check_reproducible.py`` runs more configurations by hand (other OpenBLAS kernels, which
tests never force).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from check_reproducible import REDUCED  # noqa: E402


def test_notebook_kernels_start_in_the_reduced_configuration(request: Any) -> None:
    if not request.config.getoption("nbval", default=False):
        pytest.skip("nbval is off: no notebook kernels in this run")
    if os.environ.get("NBCODE_KERNEL_CONFIG", "reduced") != "reduced":
        pytest.skip("NBCODE_KERNEL_CONFIG asks for the machine's configuration")
    from nbval.kernel import RunningKernel

    kernel = RunningKernel("python3", cwd=str(ROOT))
    try:
        code = f"import os; print(sorted((k, os.environ.get(k)) for k in {sorted(REDUCED)!r}))"
        msg_id = kernel.execute_cell_input(code, allow_stdin=False)
        out = ""
        while True:
            msg = kernel.get_message(stream="iopub", timeout=30)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
    finally:
        kernel.stop()
    assert out.strip() == str(sorted(REDUCED.items())), out
