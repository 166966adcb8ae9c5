"""The play control of a sweep's slider: its HTML, its script only where needed, the live widget.

The button itself is driven in headless Chromium in ``tests/test_browser.py``
(``test_play_button_steps_a_slider``).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from nbcode.sweep import PLAY_JS_PATH, Choice, Plot, Slider, sweep


def draw_path(k: int, kind: str = "a") -> Plot:
    x = np.arange(k + 1, dtype=float)
    p = Plot(caption=f"k = {k}, {kind}")
    p[0].plot(x, x**2).set(xlim=(0, 5), ylim=(0, 25))
    return p


def test_a_playable_slider_gets_a_button_and_the_player() -> None:
    html = sweep(draw_path, k=Slider(values=range(6), integer=True, value=0, play=True, interval=50), kind=Choice(["a", "b"])).to_html()
    buttons = re.findall(r"<button[^>]*data-sweep-play=\"k\"[^>]*>", html)
    assert len(buttons) == 1 and 'data-interval="50"' in buttons[0] and 'aria-pressed="false"' in buttons[0]
    assert PLAY_JS_PATH.read_text() in html
    uid = re.search(r'id="(nbsweep-[0-9a-f]+)"', html).group(1)
    assert f"window.nbcodeSweepPlay.attach('{uid}');" in html
    # the button is not a control of the grid: the payload's controls are unchanged
    assert html.count("data-sweep-control=") == 2


def test_without_play_the_html_is_unchanged() -> None:
    """A sweep with no playable slider carries neither the button nor the player's script, so the
    committed outputs of every other chapter stay byte for byte the same."""
    html = sweep(draw_path, k=Slider(values=range(6), integer=True)).to_html()
    assert "data-sweep-play" not in html and "nbcodeSweepPlay" not in html


@pytest.mark.parametrize(("kwargs", "match"), [(dict(play=1), "Invalid play"), (dict(interval=5), "Invalid interval"),
                                                (dict(interval=100.0), "Invalid interval")])
def test_bad_play_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        Slider(values=[0, 1, 2], **kwargs)


def test_live_widget_has_a_linked_player(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipywidgets as W

    links = []
    real = W.jslink
    monkeypatch.setattr(W, "jslink", lambda a, b: links.append((a, b)) or real(a, b))
    box = sweep(draw_path, k=Slider(values=range(6), integer=True, value=0, play=True, interval=50)).widget()
    slider, player = box.children[0].children
    assert isinstance(player, W.Play) and (player.min, player.max, player.interval, player.value) == (0, 5, 50, 0)
    # the player moves the slider's position (in the browser: jslink)
    assert links == [((player, "value"), (slider, "index"))]
