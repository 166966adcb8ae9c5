"""Execute the book's notebooks under other numeric configurations and compare every output with
the committed one (``make reproducible``; a check by hand, not part of ``make test``).

  python scripts/check_reproducible.py                          # all notebooks, the CI set
  python scripts/check_reproducible.py --config sandybridge book/optimizers.ipynb
  python scripts/check_reproducible.py --config all --jobs 2

A notebook's stored outputs must not depend on the machine: not on the CPU, the BLAS kernel, the
number of threads or torch's instruction set. ``make test`` checks the configuration ``reduced``
(one thread everywhere, torch's baseline kernels, MKL held to SSE4.2) against the committed
outputs. The OpenBLAS kernels of other CPUs (``sandybridge``, ``haswell``, ``zen``, ...) can be
forced only here, in this one command: tests and CI never set ``OPENBLAS_*``, because some
machines need those variables for their own reasons.

Prints each difference (the frame, series and values for a sweep) and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

#: One thread for every library, torch's scalar kernels, MKL held to an old instruction set.
REDUCED = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
}

#: Named configurations. ``reduced`` is the one ``make test`` runs; the others are by hand only.
CONFIGS: dict[str, dict[str, str]] = {
    "native": {},
    "reduced": REDUCED,
    "sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge", "OMP_NUM_THREADS": "1"},
    "haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "zen": {"OPENBLAS_CORETYPE": "Zen"},
    "skylakex": {"OPENBLAS_CORETYPE": "SkylakeX"},
    "avx2-torch": {"ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell"},
}

_EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
src, dst = sys.argv[1], sys.argv[2]
nb = nbformat.read(src, as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, dst)
"""


def execute_copy(nb: Path, out: Path, env: dict[str, str]) -> float:
    """Execute ``nb`` in a fresh kernel with ``env`` added to the environment; write it to ``out``."""
    full = {**os.environ, "NBCODE_SWEEP": "static", "TQDM_DISABLE": "1", **env}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", _EXECUTE, str(nb), str(out), str(nb.parent)], env=full, check=True,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    from compare_outputs import compare_notebooks

    from booktools import toc_notebooks

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook of _toc.yml")
    ap.add_argument("--config", default="reduced", help=f"one of {sorted(CONFIGS)}, a comma list, or 'all'")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks executed at once")
    ap.add_argument("--keep", type=Path, help="keep the executed copies in this folder")
    args = ap.parse_args(argv)

    names = sorted(set(CONFIGS) - {"native"}) if args.config == "all" else args.config.split(",")
    for name in names:
        if name not in CONFIGS:
            ap.error(f"unknown configuration {name!r} (use one of {sorted(CONFIGS)})")
    notebooks = [p.resolve() for p in args.notebooks] or toc_notebooks(ROOT)
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="nbcode-repro-"))
    jobs = [(name, nb) for name in names for nb in notebooks]
    for name in names:
        (tmp / name).mkdir(parents=True, exist_ok=True)

    def one(job: tuple[str, Path]) -> tuple[str, Path, float, list[str]]:
        name, nb = job
        out = tmp / name / nb.name
        secs = execute_copy(nb, out, CONFIGS[name])
        return name, nb, secs, compare_notebooks(nb, out)

    failed = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for name, nb, secs, diffs in pool.map(one, jobs):
            status = "same outputs" if not diffs else f"{len(diffs)} difference lines"
            print(f"[{name}] {nb.relative_to(ROOT)}: {secs:.1f} s, {status}", flush=True)
            for line in diffs:
                print("    " + line)
            failed += bool(diffs)
    print(f"{len(jobs) - failed} of {len(jobs)} executions reproduce the committed outputs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
