"""The book's plot style and colours.

Every figure in the book uses one matplotlib style, ``book.mplstyle``: the Okabe-Ito
colour-blind-safe palette, light grids, no top/right spines, sizes legible in print.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt

__all__ = ["STYLE_PATH", "PALETTE", "use_book_style", "color"]

STYLE_PATH = Path(__file__).with_name("book.mplstyle")

#: The Okabe-Ito palette (blue, vermillion, green, purple, orange, sky blue, yellow, black).
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)


def use_book_style() -> None:
    """Make the book's style the default for every later figure.

    Examples
    --------
    >>> use_book_style()
    >>> mpl.rcParams["axes.spines.top"]
    False
    """
    plt.style.use(str(STYLE_PATH))


def color(c: int | str | None, default: int = 0) -> str:
    """Resolve a colour: an index into :data:`PALETTE`, ``"C<i>"``, or any CSS colour.

    Examples
    --------
    >>> color(1)
    '#D55E00'
    >>> color("C8")
    '#0072B2'
    >>> color("#123456")
    '#123456'
    """
    if c is None:
        c = default
    if isinstance(c, str) and len(c) >= 2 and c[0] == "C" and c[1:].isdigit():
        c = int(c[1:])
    if isinstance(c, (int,)) and not isinstance(c, bool):
        return PALETTE[c % len(PALETTE)]
    if isinstance(c, str):
        return mpl.colors.to_hex(c) if not c.startswith("#") else c
    raise ValueError(f"Invalid colour: {c!r}")
