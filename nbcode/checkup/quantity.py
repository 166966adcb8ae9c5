"""One measured quantity of a checkup: its value, its uncertainty, the book's prediction, a verdict,
what it cost, and the section of the book that explains it.

A verdict is never stronger than the evidence: "consistent" means the prediction lies inside the
95 % interval of the measurement, "differs" that it lies outside; without an interval or without a
prediction the quantity is only "measured", and a quantity that does not apply to the model says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nbcode._validate import _is_number, count, show

__all__ = ["Cost", "Link", "Quantity", "fmt", "fmt_pm", "BOOK"]


@dataclass
class Cost:
    """What a measurement cost: forward and backward passes, counted in passes over the whole data
    (rows processed divided by the number of rows), Hessian-vector products (each a product with
    the Hessian of the whole data: one pass over all batches),
    and wall-clock seconds (shown by :meth:`Report.to_dict` and the benchmark, never in the
    rendered report, so that the report is the same on every run)."""

    forward: float = 0.0
    backward: float = 0.0
    hvp: int = 0
    seconds: float = 0.0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.forward + other.forward, self.backward + other.backward, self.hvp + other.hvp,
                    self.seconds + other.seconds)

    def __sub__(self, other: "Cost") -> "Cost":
        return Cost(self.forward - other.forward, self.backward - other.backward, self.hvp - other.hvp,
                    self.seconds - other.seconds)

    def copy(self) -> "Cost":
        return Cost(self.forward, self.backward, self.hvp, self.seconds)

    def text(self) -> str:
        parts = [f"{self.forward:.3g} fwd", f"{self.backward:.3g} bwd"]
        if self.hvp:
            parts.append(f"{self.hvp} HVP")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"forward_passes": round(self.forward, 4), "backward_passes": round(self.backward, 4), "hvp": self.hvp,
                "seconds": round(self.seconds, 4)}


@dataclass(frozen=True)
class Link:
    """A section of the book: the chapter's label, the section's title and its page."""

    label: str
    section: str
    page: str

    @property
    def url(self) -> str:
        from docutils.nodes import make_id

        return f"{self.page}.html#{make_id(self.section)}"

    def to_dict(self) -> dict[str, str]:
        return {"chapter": self.label, "section": self.section, "notebook": f"book/{self.page}.ipynb", "url": self.url}


def _L(page: str, section: str) -> Link:
    return Link(f"ch-{page}", section, page)


#: The sections of the book each reading points to.
BOOK: dict[str, Link] = {
    "variance": _L("initialization", "Deep networks: prediction against measurement"),
    "layer": _L("initialization", "How a variance travels through a layer"),
    "saturation": _L("initialization", "Saturation and collapse"),
    "init_loss": _L("initialization", "Does it matter for training?"),
    "hessian": _L("loss_surfaces", "The Hessian at scale"),
    "stable": _L("convergence", "Many dimensions: one contraction factor per eigen-direction"),
    "momentum": _L("optimizers", "The heavy ball on a quadratic"),
    "adam": _L("optimizers", "Adaptive step sizes: AdaGrad, RMSProp, Adadelta, Adam and its relatives"),
    "range_test": _L("convergence", "In practice: a learning-rate range test"),
    "noise": _L("convergence", "Stochastic and mini-batch gradients"),
    "floor": _L("convergence", "Constant steps stall at a noise floor"),
    "batch": _L("optimizers", "Batch size: small against large"),
    "bn": _L("normalization", "Why does BatchNorm help?"),
    "illcond": _L("loss_surfaces", "Ill-conditioning during training"),
    "clipping": _L("regularization", "Gradient clipping"),
    "eos": _L("checkup", "During training: the edge of stability"),
}


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _number(x: Any, name: str) -> float | None:
    """None, or ``x`` as a float (NaN and infinities included: they mark missing or unbounded values)."""
    if x is None:
        return None
    if not _is_number(x):
        raise TypeError(f"Invalid {name}: {show(x)} (need a real number or None)")
    try:
        return float(x)
    except OverflowError:  # an integer beyond the float range
        raise ValueError(f"Invalid {name}: {show(x)} (need a number within the float range)") from None


def fmt(x: float | None, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits ("–" for a missing value, None or NaN; "∞" and
    "−∞" for infinities).

    Examples
    --------
    >>> fmt(0.0123456), fmt(None), fmt(12345.6, 2)
    ('0.0123', '–', '1.2e+04')
    """
    x = _number(x, "x")
    digits = count(digits, "digits", low=1)
    if x is None or math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{round(float(x), 12):.{digits}g}"


def fmt_pm(value: float | None, error: float | None) -> str:
    """``value ± error`` with the value rounded to the error's first two significant digits.

    A missing value (None or NaN) shows as "–"; a missing, non-finite or zero error shows the
    value alone, to four significant digits.

    Examples
    --------
    >>> fmt_pm(1.23456, 0.0123)
    '1.235 ± 0.012'
    >>> fmt_pm(3.0, 0.0)
    '3'
    """
    value, error = _number(value, "value"), _number(error, "error")
    if not _finite(value):
        return fmt(value)
    assert value is not None
    if not _finite(error) or error is None or error <= 0:
        return fmt(value, 4)
    # decimals so that the error shows two significant digits
    dec = max(0, 1 - int(math.floor(math.log10(error))))
    if dec > 12 or abs(value) >= 1e6 or (abs(value) < 1e-3 and value != 0):
        return f"{fmt(value, 4)} ± {fmt(error, 2)}"
    return f"{round(value, 12):.{dec}f} ± {round(error, 12):.{dec}f}"


@dataclass
class Quantity:
    """One reading of the checkup.

    ``value`` is the measurement; ``error`` its standard error or a bound (``error_kind`` says
    which); ``ci`` a 95 % interval; ``prediction`` the book's prediction (a number, or None) under
    ``assumptions``; ``verdict`` one of ``"consistent"``, ``"differs"``, ``"measured"``,
    ``"not applicable"``, ``"warning"``, ``"ok"``; ``note`` one sentence for the reader.
    """

    key: str
    name: str
    value: float | None = None
    error: float | None = None
    error_kind: str = ""
    ci: tuple[float, float] | None = None
    prediction: float | None = None
    prediction_text: str = ""
    prediction_error: float | None = None
    assumptions: str = ""
    verdict: str = "measured"
    note: str = ""
    link: Link | None = None
    cost: Cost = field(default_factory=Cost)
    extra: dict[str, Any] = field(default_factory=dict)

    def judge(self) -> "Quantity":
        """Set the verdict from the interval and the prediction (never stronger than they allow)."""
        if self.verdict in ("not applicable", "warning"):
            return self
        if self.prediction is None or not _finite(self.prediction):
            self.verdict = "measured"
        elif self.prediction_error is not None and _finite(self.prediction_error) and _finite(self.error) and self.value is not None:
            # measurement and prediction both uncertain: judge their difference
            assert self.error is not None
            z = self.extra.get("quantile", 1.959963984540054)
            if self.value > 0 and self.prediction > 0:  # positive, skewed estimates: on the log scale
                width = z * math.hypot(self.error / self.value, self.prediction_error / self.prediction)
                gap = abs(math.log(self.value / self.prediction))
            else:
                width, gap = z * math.hypot(self.error, self.prediction_error), abs(self.value - self.prediction)
            self.verdict = "consistent" if gap <= width else "differs"
        elif self.ci is None:
            self.verdict = "measured"
        else:
            lo, hi = self.ci
            self.verdict = "consistent" if lo <= self.prediction <= hi else "differs"
        return self

    def shown_value(self) -> str:
        if self.verdict == "not applicable" and self.value is None:
            return "–"
        if self.ci is not None and self.error is None:
            return f"{fmt(self.value, 4)}"
        return fmt_pm(self.value, self.error) if self.error is not None else fmt(self.value, 4)

    def to_dict(self) -> dict[str, Any]:
        def num(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
            return x

        return {
            "key": self.key,
            "name": self.name,
            "value": num(self.value),
            "error": num(self.error),
            "error_kind": self.error_kind,
            "ci95": None if self.ci is None else [num(float(self.ci[0])), num(float(self.ci[1]))],
            "prediction": num(self.prediction),
            "prediction_error": num(self.prediction_error),
            "prediction_text": self.prediction_text,
            "assumptions": self.assumptions,
            "verdict": self.verdict,
            "note": self.note,
            "book": None if self.link is None else self.link.to_dict(),
            "cost": self.cost.to_dict(),
            "extra": _jsonable(self.extra),
        }


def _jsonable(x: Any) -> Any:
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else (None if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (bool, int, str)) or x is None:
        return x
    return str(x)
