"""Re-execute the book's notebooks in place, top to bottom in a fresh kernel (`make outputs`).

  python scripts/execute_notebooks.py                 # every notebook in _toc.yml
  python scripts/execute_notebooks.py book/intro.ipynb

Run it after changing a notebook or the nbcode code it uses, then commit the notebooks: nbval
compares a fresh execution with these stored outputs. The Makefile sets NBCODE_SWEEP=static and
TQDM_DISABLE=1 so that the stored outputs are the reproducible ones.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def coalesce_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) chunks into one output: how a kernel splits a stream
    depends on timing, and the stored notebook must not."""
    out: list = []
    for o in outputs:
        if o.output_type == "stream" and out and out[-1].output_type == "stream" and out[-1].name == o.name:
            out[-1].text += o.text
        else:
            out.append(o)
    return out


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    for cell in nb.cells:  # no wall-clock timestamps: a re-run with the same results changes nothing
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    nbformat.write(nb, path)
    return time.perf_counter() - t0


def main(argv: list[str]) -> int:
    from booktools import toc_notebooks

    paths = [Path(a).resolve() for a in argv] or toc_notebooks(ROOT)
    for p in paths:
        print(f"{p.relative_to(ROOT)}: ", end="", flush=True)
        print(f"{execute(p):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
