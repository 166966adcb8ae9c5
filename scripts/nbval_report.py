"""A pytest plugin that makes nbval's report of a changed output short and fast.

nbval compares every output of a re-executed notebook with the committed one and, on a mismatch,
prints a character diff of the two strings; for a sweep (a megabyte of HTML on one line) that
takes minutes. This plugin keeps nbval's comparison (the same fields, the same sanitizing) and
replaces the report with :func:`compare_outputs.explain`: the frame, panel, series and values of
a sweep, or a short line diff of text. ``conftest.py`` loads it; ``pytest -p nbval_report`` (with
``scripts/`` on the path) loads it anywhere else.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any


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
        from nbval.plugin import IPyNbCell

        IPyNbCell.compare_outputs = _compare_outputs
