"""Say where and how two notebook outputs differ, in a few lines and in well under a second.

nbval compares every output of a re-executed notebook with the committed one. Its own report of
a mismatch is a character diff of the two strings; for a sweep that is a megabyte of HTML on one
line, which takes minutes. ``conftest.py`` replaces that report with :func:`explain`:

* a **sweep** (an ``nbcode-sweep`` HTML block) is decoded and compared number by number: the
  report names the frame by its control values, the panel, the series and the point, with the
  committed and the new value;
* any other **text** is compared line by line (a unified diff of at most a few dozen lines), or,
  for a very long line, around the first differing character.

As a script it compares every output of two executions of the same notebooks:

  python scripts/compare_outputs.py book/ /tmp/run/       # each notebook of book/ with its copy
  python scripts/compare_outputs.py a.ipynb b.ipynb
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from itertools import product
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nbcode.sweep.encode import decode_sweep  # noqa: E402

__all__ = ["explain", "explain_text", "explain_sweeps", "sweep_payloads", "compare_notebooks"]

_PAYLOAD = re.compile(r'<script type="application/json" class="nbcode-sweep-data">(.*?)</script>', re.S)
MAX_LINES = 12  # differences reported per output


def sweep_payloads(html: str) -> list[dict[str, Any]]:
    """The decoded sweeps inside an HTML output (usually one)."""
    return [decode_sweep(m.group(1).replace("<\\/", "</")) for m in _PAYLOAD.finditer(html)]


def _fmt(v: Any) -> str:
    return "gap" if v is None else format(v, ".6g") if isinstance(v, float) else repr(v)


def _position(controls: list[dict[str, Any]], i: int) -> str:
    """The control values of grid position ``i`` (row-major, the last control fastest)."""
    sizes = [len(c["labels"]) for c in controls]
    idx = list(product(*(range(n) for n in sizes)))[i] if sizes else ()
    return ", ".join(f"{c['name']}={c['labels'][k]}" for c, k in zip(controls, idx))


def _series_name(ln: dict[str, Any], j: int) -> str:
    return f"series {j} {ln['label']!r}" if ln.get("label") else f"series {j}"


def _diff_frames(ref: dict[str, Any], new: dict[str, Any]) -> Iterator[str]:
    """Differences inside one frame, each a short phrase."""
    for key in ("caption", "w", "h"):
        if ref.get(key) != new.get(key):
            yield f"{key}: {ref.get(key)!r} -> {new.get(key)!r}"
    if len(ref["axes"]) != len(new["axes"]):
        yield f"{len(ref['axes'])} panels -> {len(new['axes'])}"
        return
    for a, (ra, na) in enumerate(zip(ref["axes"], new["axes"])):
        where = f"panel {a}" + (f" {ra['title']!r}" if ra.get("title") else "")
        for key in ("title", "xlabel", "ylabel", "xscale", "yscale", "xlim", "ylim", "legend", "refs", "texts"):
            if ra.get(key) != na.get(key):
                yield f"{where}, {key}: {ra.get(key)!r} -> {na.get(key)!r}"
        if (ra["bg"] is None) != (na["bg"] is None):
            yield f"{where}: contour background {'removed' if na['bg'] is None else 'added'}"
        if len(ra["lines"]) != len(na["lines"]):
            yield f"{where}: {len(ra['lines'])} series -> {len(na['lines'])}"
            continue
        for j, (rl, nl) in enumerate(zip(ra["lines"], na["lines"])):
            name = f"{where}, {_series_name(rl, j)}"
            for key in ("label", "color", "dash", "lw", "marker", "ms", "alpha"):
                if rl.get(key) != nl.get(key):
                    yield f"{name}, {key}: {rl.get(key)!r} -> {nl.get(key)!r}"
            for axis in ("x", "y"):
                rv, nv = rl[axis], nl[axis]
                if len(rv) != len(nv):
                    yield f"{name}: {len(rv)} points -> {len(nv)}"
                    break
                bad = [k for k, (p, q) in enumerate(zip(rv, nv)) if p != q]
                if bad:
                    k = bad[0]
                    more = f" (and {len(bad) - 1} more points)" if len(bad) > 1 else ""
                    yield f"{name}, point {k}: {axis} {_fmt(rv[k])} -> {_fmt(nv[k])}{more}"


def explain_sweeps(ref: list[dict[str, Any]], new: list[dict[str, Any]], limit: int = MAX_LINES) -> list[str]:
    """Where two lists of decoded sweeps differ: frame (by its control values), panel, series, point."""
    out: list[str] = []
    if len(ref) != len(new):
        return [f"{len(ref)} sweeps -> {len(new)}"]
    for s, (rs, ns) in enumerate(zip(ref, new)):
        tag = f"sweep {s}: " if len(ref) > 1 else ""
        rc = [(c["name"], c["labels"]) for c in rs["controls"]]
        nc = [(c["name"], c["labels"]) for c in ns["controls"]]
        if rc != nc:
            out.append(f"{tag}controls {rc} -> {nc}")
            continue
        n_bad = 0
        for i, (rf, nf) in enumerate(zip(rs["frames"], ns["frames"])):
            diffs = list(_diff_frames(rf, nf))
            if not diffs:
                continue
            n_bad += 1
            if len(out) < limit:
                pos = _position(rs["controls"], i)
                out.extend(f"{tag}frame {i} ({pos}): {d}" for d in diffs[: max(1, limit - len(out))])
        if n_bad:
            out.append(f"{tag}{n_bad} of {len(rs['frames'])} frames differ")
    return out


def explain_text(ref: str, new: str, limit: int = 40) -> list[str]:
    """A short line diff, or the first differing characters of a very long line."""
    a, b = ref.splitlines(), new.splitlines()
    if max(map(len, a + b), default=0) <= 2000 and len(a) + len(b) <= 10_000:
        diff = list(difflib.unified_diff(a, b, "committed", "new", n=1, lineterm=""))
        return diff[:limit] + ([f"... ({len(diff) - limit} more diff lines)"] if len(diff) > limit else [])
    k = next((i for i, (p, q) in enumerate(zip(ref, new)) if p != q), min(len(ref), len(new)))
    return [f"first difference at character {k} of {len(ref)} (committed) / {len(new)} (new):",
            f"  committed: ...{ref[max(0, k - 60):k + 60]!r}...", f"  new:       ...{new[max(0, k - 60):k + 60]!r}..."]


def explain(key: str, ref: Any, new: Any) -> list[str]:
    """Report lines for one mismatching output field (``key`` is nbval's: a MIME type or 'text')."""
    if not (isinstance(ref, str) and isinstance(new, str)):
        return [f"{key}: {str(ref)[:200]!r} -> {str(new)[:200]!r}"]
    if key == "text/html" and "nbcode-sweep-data" in ref and "nbcode-sweep-data" in new:
        try:
            lines = explain_sweeps(sweep_payloads(ref), sweep_payloads(new))
        except (ValueError, KeyError, TypeError) as e:  # a payload from an older format
            lines = [f"(could not decode the sweep: {e})"]
        if lines:
            return lines
        # same numbers: the difference is in the markup around them
        ref, new = _PAYLOAD.sub("<data/>", ref), _PAYLOAD.sub("<data/>", new)
    return explain_text(ref, new)


def _outputs(path: Path) -> list[list[dict[str, Any]]]:
    nb = json.loads(path.read_text())
    return [c.get("outputs", []) for c in nb["cells"] if c["cell_type"] == "code"]


def _fields(outputs: list[dict[str, Any]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for o in outputs:
        if "text" in o:
            fields[o.get("name", "text")] = fields.get(o.get("name", "text"), "") + "".join(o["text"])
        for k, v in o.get("data", {}).items():
            if k in ("image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"):
                continue
            fields[k] = fields.get(k, "") + ("".join(v) if isinstance(v, list) else json.dumps(v))
    png = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")
    return {k: png.sub("data:image/png;base64,PNG", v) for k, v in fields.items()}


def compare_notebooks(a: Path, b: Path) -> list[str]:
    """Every differing output of two executions of one notebook, cell by cell (code cells)."""
    out: list[str] = []
    ca, cb = _outputs(a), _outputs(b)
    if len(ca) != len(cb):
        return [f"{a.name}: {len(ca)} code cells -> {len(cb)}"]
    for i, (oa, ob) in enumerate(zip(ca, cb)):
        fa, fb = _fields(oa), _fields(ob)
        for key in sorted(set(fa) | set(fb)):
            if fa.get(key) != fb.get(key):
                out.append(f"{a.name} code cell {i}, {key}:")
                out.extend("    " + s for s in explain(key, fa.get(key, ""), fb.get(key, "")))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    a, b = Path(argv[0]), Path(argv[1])
    pairs = [(p, b / p.name) for p in sorted(a.glob("*.ipynb")) if (b / p.name).exists()] if a.is_dir() else [(a, b)]
    lines = [s for pa, pb in pairs for s in compare_notebooks(pa, pb)]
    print("\n".join(lines) if lines else f"{len(pairs)} notebook(s): every output is the same")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
