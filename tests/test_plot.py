"""The book's plot style."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pytest

from nbcode.plot import PALETTE, STYLE_PATH, color, use_book_style


def test_style_is_the_okabe_ito_palette() -> None:
    use_book_style()
    cycle = [c["color"].upper() for c in mpl.rcParams["axes.prop_cycle"]]
    assert ["#" + c.lstrip("#") for c in cycle] == list(PALETTE)
    assert STYLE_PATH.is_file()


def test_color_resolution() -> None:
    assert color(0) == "#0072B2" and color("C1") == "#D55E00" and color(None, default=2) == "#009E73"
    assert color("red") == "#ff0000"
    with pytest.raises(TypeError, match=r"Invalid c: 1.5 \(need a palette index"):
        color(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid c: 'no-such-colour' \(need a palette index"):
        color("no-such-colour")
    with pytest.raises(TypeError, match="Invalid default: None"):
        color(1, default=None)  # type: ignore[arg-type]
    assert color(np.int64(1)) == "#D55E00"


def test_snapped_figures_do_not_show_round_off() -> None:
    """Round-off of the size two CPUs disagree on gives the same PNG; a visible change does not."""
    import io

    from matplotlib.figure import Figure

    from nbcode.plot import snap_figure

    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 10.0, 200)
    y = np.sin(x) + 0.1 * rng.normal(size=200)

    def png(yy: np.ndarray) -> bytes:
        fig = Figure(figsize=(4, 3), dpi=100)
        ax = fig.subplots(1, 2)
        ax[0].plot(x, yy, marker="o", ms=2)
        ax[0].fill_between(x, yy - 0.2, yy + 0.2, alpha=0.3)
        ax[0].bar([1.0, 2.0], [yy[0] + 2, yy[1] + 2])
        ax[1].scatter(x, np.exp(yy))
        ax[1].set_yscale("log")
        ax[1].contour(x[:30], x[:40], np.outer(np.cos(x[:40]), yy[:30]) + x[:40, None] / 7)
        buf = io.BytesIO()
        snap_figure(fig).savefig(buf, format="png", metadata={"Software": None})
        return buf.getvalue()

    base = png(y)
    assert png(y * (1 + 1e-12 * rng.normal(size=200))) == base
    moved = y.copy()
    moved[50] += 0.3
    assert png(moved) != base
