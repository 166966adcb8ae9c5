"""The checkup's report: rich HTML in Jupyter, a JSON-serializable dict, one self-contained HTML file.

The HTML has no script and loads nothing: tables, CSS in a ``<style>`` element, and figures as
PNG data URIs inside ``<figure>`` elements with a caption and alt text. Every number is shown to
the precision its error bar supports; timings appear only in :meth:`Report.to_dict` (they differ
between runs, the report should not).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nbcode import _validate as V
from nbcode.checkup.quantity import Cost, Link, Quantity, fmt

__all__ = ["Section", "Figure", "Report"]

_CHAPTERS = {
    "ch-initialization": "Initialization", "ch-loss_surfaces": "Loss surfaces", "ch-convergence": "Convergence",
    "ch-optimizers": "Optimizers", "ch-normalization": "Normalization", "ch-regularization": "Regularization",
    "ch-checkup": "Your own model: a checkup",
}

_CSS = """
.nbcode-checkup{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:0.86rem;line-height:1.35;max-width:62rem}
.nbcode-checkup .ck-title{font-size:1.05rem;font-weight:600;margin:0.2rem 0}
.nbcode-checkup .ck-head{font-size:0.98rem;font-weight:600;margin:0.9rem 0 0.2rem 0;border-bottom:1px solid #ccc}
.nbcode-checkup table{border-collapse:collapse;margin:0.3rem 0;width:100%}
.nbcode-checkup th,.nbcode-checkup td{border:1px solid #ddd;padding:2px 5px;vertical-align:top;text-align:left}
.nbcode-checkup th{background:#f3f3f3;font-weight:600}
.nbcode-checkup td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.nbcode-checkup .ck-v{display:inline-block;padding:0 5px;border-radius:3px;font-size:0.8rem;white-space:nowrap}
.nbcode-checkup .ck-consistent,.nbcode-checkup .ck-ok{background:#dff0d8;color:#1e5c1e}
.nbcode-checkup .ck-differs{background:#f8d7da;color:#7a1c24}
.nbcode-checkup .ck-warning{background:#fff0c2;color:#6b4a00}
.nbcode-checkup .ck-measured,.nbcode-checkup .ck-not-applicable,.nbcode-checkup .ck-no-prediction{background:#eee;color:#444}
.nbcode-checkup .ck-note{color:#333}
.nbcode-checkup .ck-small{color:#555;font-size:0.78rem}
.nbcode-checkup figure{margin:0.4rem 0}
.nbcode-checkup figure img{max-width:100%;height:auto}
.nbcode-checkup figcaption{font-size:0.8rem;color:#444}
.nbcode-checkup ul{margin:0.2rem 0 0.2rem 1.2rem;padding:0}
"""


class Figure:
    """A PNG with its alt text and caption, drawn when first shown (a report that is never
    displayed costs no plotting)."""

    def __init__(self, draw: Callable[[], bytes], alt: str, caption: str) -> None:
        self._draw = V.function(draw, "draw")
        self.alt, self.caption = V.text(alt, "alt"), V.text(caption, "caption")
        self._png: bytes | None = None

    @property
    def png(self) -> bytes:
        if self._png is None:
            self._png = self._draw()
        return self._png

    def html(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}">'
                f"<figcaption>{html.escape(self.caption)}</figcaption></figure>")


@dataclass
class Section:
    """One part of the report: its quantities, an optional table of rows, figures and notes."""

    key: str
    title: str
    quantities: list[Quantity] = field(default_factory=list)
    table: tuple[list[str], list[list[str]]] | None = None
    table_caption: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cost: Cost = field(default_factory=Cost)
    skipped: str = ""

    def to_dict(self) -> dict[str, Any]:
        from nbcode.checkup.quantity import _jsonable

        return {"key": self.key, "title": self.title, "skipped": self.skipped or None,
                "quantities": [q.to_dict() for q in self.quantities], "rows": _jsonable(self.rows),
                "notes": list(self.notes), "cost": self.cost.to_dict()}


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def _link(link: Link | None, base: str) -> str:
    if link is None:
        return ""
    chapter = _CHAPTERS.get(link.label, link.label)
    return f'<a href="{_esc(base + link.url)}">{_esc(chapter)}: {_esc(link.section)}</a>'


def _verdict(v: str) -> str:
    return f'<span class="ck-v ck-{v.replace(" ", "-")}">{_esc(v)}</span>'


def _interval(q: Quantity) -> str:
    if q.ci is None:
        return "–"
    return f"[{fmt(q.ci[0])}, {fmt(q.ci[1])}]"


@dataclass
class Report:
    """What :func:`~nbcode.checkup.checkup` found. Display it in Jupyter, or call :meth:`to_dict` or
    :meth:`save_html`. ``link_base`` is put before every link to the book (default: the book's own
    pages, relative, as in the built book)."""

    title: str
    summary: dict[str, Any]
    sections: list[Section]
    messages: list[str] = field(default_factory=list)
    link_base: str = ""

    # ------------------------------------------------------------------ access
    def __getitem__(self, key: str) -> Quantity:
        """The quantity called ``key`` (e.g. ``"curvature.lambda_max"``)."""
        for s in self.sections:
            for q in s.quantities:
                if q.key == key:
                    return q
        raise KeyError(f"Unknown quantity: {key!r} (have {[q.key for s in self.sections for q in s.quantities]})")

    def keys(self) -> list[str]:
        return [q.key for s in self.sections for q in s.quantities]

    def section(self, key: str) -> Section:
        """The section called ``key`` (e.g. ``"curvature"``)."""
        for s in self.sections:
            if s.key == key:
                return s
        raise ValueError(f"Invalid key: {V.show(key)} (use one of {[s.key for s in self.sections]})")

    @property
    def cost(self) -> Cost:
        total = Cost()
        for s in self.sections:
            total = total + s.cost
        return total

    # ------------------------------------------------------------------ outputs
    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON types (non-finite numbers as None, "inf" or "-inf")."""
        from nbcode.checkup.quantity import _jsonable

        out = {"title": self.title, "summary": _jsonable(self.summary), "messages": list(self.messages),
               "sections": [s.to_dict() for s in self.sections], "cost": self.cost.to_dict()}
        json.dumps(out)  # guaranteed serializable
        return out

    def __repr__(self) -> str:
        lines = [self.title]
        lines += [f"  ! {m}" for m in self.messages]
        for s in self.sections:
            lines.append(f"{s.title}" + (f" (skipped: {s.skipped})" if s.skipped else ""))
            for q in s.quantities:
                lines.append(f"  {q.key:28s} {q.shown_value():>22s}  {q.verdict}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.html()

    def html(self) -> str:
        """The report as one HTML fragment (no script, nothing loaded)."""
        b = self.link_base
        parts = [f'<div class="nbcode-checkup"><style>{_CSS}</style>', f'<div class="ck-title">{_esc(self.title)}</div>']
        s = self.summary
        parts.append('<div class="ck-small">' + _esc(
            f"{s['parameters']:,} parameters; {s['rows']:,} rows in {s['batches']} batches; budget “{s['budget']}”; "
            f"loss evaluated with normalization layers in training mode and dropout off. "
            f"Cost in passes over the data and Hessian-vector products (HVP): {self.cost.text()}.") + "</div>")
        flagged = [(sec, q) for sec in self.sections for q in sec.quantities if q.verdict in ("warning", "differs")]
        if self.messages or flagged:
            parts.append("<ul>")
            parts += [f"<li><b>{_esc(m)}</b></li>" for m in self.messages]
            parts += [f"<li>{_verdict(q.verdict)} {_esc(q.name)}: {_esc(q.note)}</li>" for _, q in flagged]
            parts.append("</ul>")
        for i, sec in enumerate(self.sections, 1):
            parts.append(f'<div class="ck-head">{i}. {_esc(sec.title)}</div>')
            if sec.skipped:
                parts.append(f'<p class="ck-note">Skipped: {_esc(sec.skipped)}</p>')
                continue
            if sec.quantities:
                parts.append("<table><tr><th>quantity</th><th>measured</th><th>95% interval</th><th>book's prediction</th>"
                             "<th>verdict</th><th>cost</th><th>read more</th></tr>")
                for q in sec.quantities:
                    pred = q.prediction_text or (fmt(q.prediction) if q.prediction is not None else "–")
                    note = f'<div class="ck-note">{_esc(q.note)}</div>' if q.note else ""
                    ass = f'<div class="ck-small">Assumes: {_esc(q.assumptions)}</div>' if q.assumptions else ""
                    kind = f'<div class="ck-small">{_esc(q.error_kind)}</div>' if q.error_kind and q.value is not None else ""
                    parts.append(
                        f"<tr><td>{_esc(q.name)}{note}</td><td class=\"num\">{_esc(q.shown_value())}{kind}</td>"
                        f"<td class=\"num\">{_esc(_interval(q))}</td><td>{_esc(pred)}{ass}</td><td>{_verdict(q.verdict)}</td>"
                        f"<td class=\"ck-small\">{_esc(q.cost.text()) if q.cost.forward or q.cost.hvp else ''}</td>"
                        f"<td class=\"ck-small\">{_link(q.link, b)}</td></tr>")
                parts.append("</table>")
            if sec.table is not None:
                head, rows = sec.table
                if sec.table_caption:
                    parts.append(f'<div class="ck-small">{_esc(sec.table_caption)}</div>')
                parts.append("<table><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr>")
                for r in rows:
                    parts.append("<tr>" + "".join(
                        f"<td>{_verdict(c[2:])}</td>" if c.startswith("§:") else f'<td class="num">{_esc(c)}</td>' for c in r) + "</tr>")
                parts.append("</table>")
            parts += [f'<p class="ck-note">{_esc(n)}</p>' for n in sec.notes]
            parts += [f.html() for f in sec.figures]
        parts.append("</div>")
        return "\n".join(parts)

    def save_html(self, path: str | Path) -> Path:
        """Write one self-contained HTML file (works offline: no script, no network)."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Invalid path: {V.show(path)} (need a str or os.PathLike)")
        p = Path(path)
        doc = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_esc(self.title)}</title>"
               f"</head><body>{self.html()}</body></html>\n")
        p.write_text(doc, encoding="utf-8")
        return p


def png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    fig.set_layout_engine("constrained")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
