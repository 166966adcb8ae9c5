"""The book's plot style."""

from __future__ import annotations

import matplotlib as mpl
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
    with pytest.raises(ValueError, match="Invalid colour"):
        color(1.5)  # type: ignore[arg-type]
