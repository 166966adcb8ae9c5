"""pytest set-up for the whole repository.

* nbval runs over exactly the notebooks listed in ``_toc.yml`` (a chapter added to the book is
  tested the moment it is added); other ``.ipynb`` files are not collected.
* Sweeps render their precomputed static form, and progress bars stay quiet, so that outputs
  are reproducible (the Makefile sets the same variables).
* A mismatching output is reported by ``scripts/compare_outputs.py``: for a sweep, the frame,
  panel, series and the two values; for text, a short line diff. nbval's own report is a
  character diff, which takes minutes on a sweep's megabyte of HTML.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
os.environ.setdefault("NBCODE_SWEEP", "static")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

_in_book: set[Path] | None = None


def pytest_ignore_collect(collection_path: Path, config: object) -> bool | None:
    global _in_book
    if collection_path.suffix != ".ipynb":
        return None
    if _in_book is None:
        from nbcode._book import toc_notebooks

        _in_book = set(toc_notebooks(ROOT))
    return collection_path.resolve() not in _in_book


def _compare_outputs(self: Any, test: list[Any], ref: list[Any], skip_compare: Any = None) -> bool:
    """nbval's comparison (same fields, same sanitizing), with a report that is fast and short."""
    from nbval.plugin import transform_streams_for_comparison

    from compare_outputs import explain

    skip = skip_compare or self.parent.skip_compare
    cc = self.colors

    def fields(outputs: list[Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = defaultdict(list)
        for o in transform_streams_for_comparison(outputs):
            for key, val in o.items():
                if key in skip:
                    continue
                if key == "data":
                    for k, v in val.items():
                        if k not in skip:
                            out[k].append(self.sanitize(v))
                else:
                    out[key].append(self.sanitize(val))
        return out

    new, old = fields(test), fields(ref)
    self.comparison_traceback = []
    report = self.comparison_traceback
    if set(old) != set(new):
        report.append(cc.FAIL + f"output fields differ: committed {sorted(old)}, new {sorted(new)}" + cc.ENDC)
        for key in sorted(set(old) ^ set(new)):
            for v in old.get(key, []) + new.get(key, []):
                report.append("  " + (v if isinstance(v, str) else repr(v))[:300])
        return False
    for key in old:
        if len(old[key]) != len(new[key]):
            report.append(cc.FAIL + f"{key!r}: {len(old[key])} committed outputs, {len(new[key])} new" + cc.ENDC)
            return False
        for a, b in zip(old[key], new[key]):
            if a != b:
                report.append(cc.OKBLUE + f" mismatch {key!r} (committed -> new):" + cc.ENDC)
                report.extend("  " + line for line in explain(key, a, b))
                return False
    return True


def pytest_configure(config: Any) -> None:
    if getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False):
        sys.path.insert(0, str(ROOT / "scripts"))
        from nbval.plugin import IPyNbCell

        IPyNbCell.compare_outputs = _compare_outputs
