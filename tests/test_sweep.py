"""The sweep helper: controls, frames, the static HTML and its page weight, the live widget."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from nbcode.sweep import Choice, Plot, Slider, sweep, sweep_mode
from nbcode.sweep.encode import Quantizer, decode_array, decode_sweep, encode_array


def draw_line(eta: float, kind: str = "a") -> Plot:
    k = np.arange(5)
    p = Plot(caption=f"eta={eta:.2f} kind={kind}")
    p[0].plot(k, (1 - eta) ** k, label=kind).set(xlabel="k")
    return p


def data_of(html: str) -> dict:
    m = re.search(r'<script type="application/json" class="nbcode-sweep-data">(.*?)</script>', html, re.S)
    assert m is not None
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_slider_grids() -> None:
    assert Slider(0.0, 1.0, num=5).values.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    np.testing.assert_allclose(Slider(1e-3, 1.0, num=4, scale="log").values, [1e-3, 1e-2, 1e-1, 1.0])
    s = Slider(values=[1, 2, 4, 8], integer=True, value=3.9)
    assert s.index == 2 and s.python_value(2) == 4 and isinstance(s.python_value(2), int)
    assert s.labels == ["1", "2", "4", "8"]
    assert Slider(0.0, 1.0, num=5).index == 2  # the middle by default
    assert Slider(0.0, 1.0, num=5, fmt=".2f").labels[1] == "0.25"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": 1.0, "stop": 0.0, "num": 3}, "Invalid slider range"),
        ({"start": 0.0, "stop": 1.0, "num": 1}, "Invalid number of slider positions"),
        ({"start": 0.0, "stop": 1.0, "num": 3, "scale": "log"}, "log scale"),
        ({"start": 0.1, "stop": 1.0, "num": 3, "scale": "cubic"}, "Invalid slider scale"),
        ({"values": [1.0, 1.0, 2.0]}, "increasing"),
        ({"values": [1.0, 2.5], "integer": True}, "whole-number"),
        ({}, "either values"),
    ],
)
def test_slider_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Slider(**kwargs)


def test_choice() -> None:
    c = Choice([("ReLU", "relu"), ("tanh", "tanh")], value="tanh")
    assert c.index == 1 and c.python_value(0) == "relu" and c.labels == ["ReLU", "tanh"]
    with pytest.raises(ValueError, match="Invalid initial choice"):
        Choice(["a"], value="b")
    with pytest.raises(ValueError, match="distinct"):
        Choice([("a", 1), ("a", 2)])


def test_grid_order_matches_frames() -> None:
    s = sweep(draw_line, eta=Slider(0.1, 0.5, num=3), kind=Choice(["a", "b"]))
    grid = list(s.grid())
    assert len(grid) == 6 == s.n_frames
    # row-major: the last control varies fastest, as sweep.js computes the frame index
    assert [(round(g["eta"], 2), g["kind"]) for g in grid[:3]] == [(0.1, "a"), (0.1, "b"), (0.3, "a")]
    data = data_of(s.to_html())
    captions = [f["caption"] for f in decode_sweep(data)["frames"]]
    assert captions == [draw_line(**g).caption for g in grid]
    assert [c["labels"] for c in data["controls"]] == [["0.1", "0.3", "0.5"], ["a", "b"]]


def test_frames_hold_the_drawn_numbers() -> None:
    s = sweep(draw_line, eta=Slider(values=[0.5, 2.5]))
    frame = decode_sweep(data_of(s.to_html()))["frames"][1]
    y = frame["axes"][0]["lines"][0]["y"]
    assert y == [1.0, -1.5, 2.25, -3.375, 5.065]  # (1 - 2.5)^k in steps of 0.005 (span 8.4)
    assert frame["axes"][0]["xlabel"] == "k"


def test_repeated_arrays_and_frames_are_stored_once() -> None:
    def same(eta: float) -> Plot:
        p = Plot()
        p[0].plot([0, 1, 2], [0, 1, 2])
        return p

    data = data_of(sweep(same, eta=Slider(0.0, 1.0, num=10)).to_html())
    assert len(data["frames"]) == 1 and data["order"] == [0] * 10
    assert len(data["pool"]) == 1 and len(data["panels"]) == 1  # x and y are the same array


def test_a_trajectory_up_to_step_k_is_stored_once() -> None:
    path = np.cumsum(np.random.default_rng(0).normal(size=(200, 2)), axis=0)

    def upto(k: int) -> Plot:
        p = Plot()
        p[0].plot(path[:k, 0], path[:k, 1]).set(xlim=(-30, 30), ylim=(-30, 30))
        return p

    data = data_of(sweep(upto, k=Slider(values=[10, 50, 100, 200], integer=True)).to_html())
    assert len(data["pool"]) == 2  # the whole x and y, once each
    assert [p["lines"][0][3:] for p in data["panels"]] == [[10], [50], [100], []]
    frames = decode_sweep(data)["frames"]
    assert [len(f["axes"][0]["lines"][0]["x"]) for f in frames] == [10, 50, 100, 200]
    np.testing.assert_allclose(frames[1]["axes"][0]["lines"][0]["y"], path[:50, 1], atol=0.04)


def test_html_is_deterministic_and_self_contained() -> None:
    a = sweep(draw_line, eta=Slider(0.1, 0.9, num=4)).to_html()
    b = sweep(draw_line, eta=Slider(0.1, 0.9, num=4)).to_html()
    assert a == b
    assert "window.nbcodeSweep.mount(" in a and "<script src" not in a and "http" not in a.split("<script>")[0]


def test_html_escapes_script_end_tags() -> None:
    def sneaky(eta: float) -> Plot:
        return Plot(caption="</script><b>x</b>")

    html = sweep(sneaky, eta=Slider(0.0, 1.0, num=2)).to_html()
    assert html.count("</script>") == 2  # the data block's and the renderer's, nothing from the caption
    assert data_of(html)["frames"][0]["caption"] == "</script><b>x</b>"


def test_non_finite_values_become_null() -> None:
    # span 1234567: steps of 1000; the first count, then differences; -0 and round-off are 0
    assert encode_array(np.array([1.0, np.nan, np.inf, -np.inf, -0.0, 1234567.0])) == '{"q":[1,3],"d":[0,null,null,null,0,1235]}'
    assert decode_array(json.loads(encode_array([0.25, 3.9e-44, -1e-17, 1.0]))) == [0.25, 0.0, 0.0, 1.0]


def test_quantization_follows_the_axis_not_the_digits() -> None:
    # the step is the largest 1, 2 or 5 x 10^e that cuts the span into at least 1,000 steps
    step = lambda lo, hi, log=False: Quantizer.for_axis([lo, hi], log=log).step  # noqa: E731
    assert step(0.0, 1.0) == 0.001 and step(0.0, 2.5) == 0.002 and step(0.0, 9.99) == 0.005
    assert step(100.0, 100.5) == 0.0005      # offset data keep their detail
    assert step(1e-8, 1e2, log=True) == 0.01  # 10 decades: 0.01 decade
    assert step(5.0, 5.0) == 0.0005           # a flat line: 10% of its value, in 1,000 steps
    # limits decide the step when they are set; far-away values are clamped, not dropped
    q = Quantizer.for_axis([0.0, 1e30], log=False, lim=(0.0, 1.0))
    assert q.step == 0.001 and q.value(q.count(1e30)) == 101.0 and q.count(float("nan")) is None
    # a log axis cannot show values <= 0
    assert Quantizer.for_axis([1.0, 10.0], log=True).count(0.0) is None


def test_round_off_does_not_change_the_payload() -> None:
    """What two CPUs may disagree on (the last bits of every number) leaves the JSON unchanged."""
    rng = np.random.default_rng(0)
    base = np.cumsum(rng.normal(size=(6, 300)), axis=1)
    noisy = base * (1 + 1e-13 * rng.normal(size=base.shape))

    def draw(k: int, arrays: np.ndarray) -> Plot:
        p = Plot(ncols=2)
        p[0].plot(np.arange(300), arrays[k]).axhline(arrays[k].mean())
        p[1].plot(np.arange(300), np.abs(arrays[k]) + 1e-3).set(yscale="log")
        return p

    a = sweep(lambda k: draw(k, base), k=Slider(values=range(6), integer=True)).to_json()
    b = sweep(lambda k: draw(k, noisy), k=Slider(values=range(6), integer=True)).to_json()
    assert a == b
    # ... while a visible change (1 % of one point) does change it
    moved = base.copy()
    moved[3, 100] += 0.01 * np.ptp(base[3])
    c = sweep(lambda k: draw(k, moved), k=Slider(values=range(6), integer=True)).to_json()
    assert a != c


def test_exact_simple_values_are_not_on_a_rounding_edge() -> None:
    # 0.0375 (= 3/80) and 2.5 are what exact computations hit; with round-off either way they
    # must still give the same count
    q = Quantizer.for_axis([0.0, 1.0], log=False)
    for v in (0.0375, 0.0625, 0.5, 0.0005):
        assert q.count(v) == q.count(v * (1 + 1e-15)) == q.count(v * (1 - 1e-15))


def test_decoded_frames_are_within_a_step() -> None:
    x = np.linspace(0.0, 7.0, 50)
    y = np.exp(-x) * np.cos(3 * x)

    def draw(eta: float) -> Plot:
        p = Plot(ncols=2)
        p[0].plot(x, eta * y)
        p[1].plot(x, eta * np.exp(-x)).set(yscale="log")
        return p

    frames = decode_sweep(sweep(draw, eta=Slider(0.5, 2.0, num=3)).to_json())["frames"]
    for eta, f in zip([0.5, 1.25, 2.0], frames):
        lin, log = f["axes"][0]["lines"][0], f["axes"][1]["lines"][0]
        step = Quantizer.for_axis(eta * y, log=False).step
        np.testing.assert_allclose(lin["y"], eta * y, rtol=0, atol=0.562 * step)
        lstep = Quantizer.for_axis(eta * np.exp(-x), log=True).step
        np.testing.assert_allclose(np.log10(log["y"]), np.log10(eta * np.exp(-x)), rtol=0, atol=0.562 * lstep)


def test_contour_background_is_embedded_once() -> None:
    x = np.linspace(-1, 1, 20)
    z = x[None, :] ** 2 + x[:, None] ** 2

    def draw(eta: float) -> Plot:
        p = Plot()
        p[0].contour(x, x, z).plot([0, eta], [0, eta])
        return p

    html = sweep(draw, eta=Slider(0.0, 1.0, num=5)).to_html()
    assert html.count("data:image/png;base64,") == 1
    assert decode_sweep(data_of(html))["frames"][0]["axes"][0]["xlim"] == [-1.0, 1.0]


def test_limits_on_size() -> None:
    with pytest.raises(ValueError, match="max_frames"):
        sweep(draw_line, eta=Slider(0.0, 1.0, num=60), kind=Choice(list("abcdefghij")), max_frames=500)

    def heavy(eta: float) -> Plot:
        p = Plot()
        p[0].plot(np.arange(5000), np.random.default_rng(int(eta * 100)).random(5000))
        return p

    with pytest.raises(ValueError, match="MB, more than max_bytes"):
        sweep(heavy, eta=Slider(0.0, 1.0, num=50), max_bytes=1_000_000).to_html()


def test_bad_draw_functions_are_named() -> None:
    with pytest.raises(TypeError, match="must return an nbcode.sweep.Plot"):
        sweep(lambda eta: None, eta=Slider(0.0, 1.0, num=2)).to_html()
    with pytest.raises(ValueError, match="at least one control"):
        sweep(draw_line)
    with pytest.raises(ValueError, match="must be a Slider or a Choice"):
        sweep(draw_line, eta=[0.1, 0.2])  # type: ignore[arg-type]


def test_a_control_without_a_parameter_is_refused_when_the_sweep_is_made() -> None:
    with pytest.raises(ValueError, match=r"Invalid control 'etaa': draw_line has no parameter of that name \(its parameters: \['eta', 'kind'\]\)"):
        sweep(draw_line, etaa=Slider(0.0, 1.0, num=2))
    with pytest.raises(ValueError, match=r"Invalid controls: draw_line needs 'eta', and no control gives it"):
        sweep(draw_line, kind=Choice(["a", "b"]))
    assert sweep(lambda **kw: draw_line(**kw), eta=Slider(0.0, 1.0, num=2)).n_frames == 2  # **kwargs takes anything


def test_a_failing_frame_names_its_control_values() -> None:
    def fragile(eta: float, kind: str = "a") -> Plot:
        if kind == "b" and eta > 0.6:
            raise ZeroDivisionError("float division by zero")
        return draw_line(eta, kind)

    s = sweep(fragile, eta=Slider(0.0, 1.0, num=3), kind=Choice(["a", "b"]))
    with pytest.raises(RuntimeError, match=r"fragile failed at eta=1.0, kind='b': ZeroDivisionError: float division by zero") as e:
        s.to_html()
    assert isinstance(e.value.__cause__, ZeroDivisionError)


def test_slider_values_are_copied() -> None:
    arr = np.array([0.1, 0.2, 0.4])
    s = Slider(values=arr)
    arr[0] = 5.0
    assert s.values.tolist() == [0.1, 0.2, 0.4] and s.labels[0] == "0.1"


def test_plot_validation() -> None:
    p = Plot()
    with pytest.raises(ValueError, match="same length"):
        p[0].plot([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="Invalid yscale"):
        p[0].set(yscale="symlog")
    with pytest.raises(ValueError, match="Invalid xlim"):
        p[0].set(xlim=(1.0, 1.0))
    with pytest.raises(ValueError, match="Invalid ncols"):
        Plot(ncols=0)
    with pytest.raises(ValueError, match="shape"):
        p[0].contour([0, 1], [0, 1, 2], np.zeros((2, 2)))


def test_matplotlib_rendering_matches_the_spec() -> None:
    p = Plot(ncols=2, caption="c")
    p[0].plot([1, 10, 100], [3, 2, 1], label="a").set(xscale="log", title="T", ylim=(0, 4)).legend()
    p[1].axhline(0.5, label="ref")
    fig = p.to_matplotlib()
    ax0, ax1 = fig.axes
    assert ax0.get_xscale() == "log" and ax0.get_title() == "T" and ax0.get_ylim() == (0.0, 4.0)
    np.testing.assert_array_equal(ax0.lines[0].get_ydata(), [3, 2, 1])
    assert ax0.get_legend() is not None and ax1.get_legend() is not None
    assert p._repr_png_()[:4] == b"\x89PNG"


def test_mode_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCODE_SWEEP", "live")
    assert sweep_mode() == "live"
    monkeypatch.setenv("NBCODE_SWEEP", "static")
    assert sweep_mode() == "static"
    bundle = sweep(draw_line, eta=Slider(0.1, 0.9, num=3))._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"} and bundle["text/plain"].startswith("<Sweep draw_line")
    monkeypatch.setenv("NBCODE_SWEEP", "sometimes")
    with pytest.raises(ValueError, match="Invalid NBCODE_SWEEP"):
        sweep_mode()
    monkeypatch.delenv("NBCODE_SWEEP")
    assert sweep_mode() == "static"  # no IPython kernel in a test process


def test_live_widget_recomputes_on_every_move() -> None:
    from nbcode.sweep.live import FrameView

    s = sweep(draw_line, eta=Slider(0.1, 0.5, num=3), kind=Choice(["a", "b"]))
    box = s.widget()
    controls, view = box.children[0].children, box.children[1]
    assert isinstance(view, FrameView)  # anywidget imports: the fast SVG view, not the matplotlib PNG
    assert decode_sweep(view.frame)["frames"][0]["caption"] == "eta=0.30 kind=a"
    controls[0].index = 2
    assert decode_sweep(view.frame)["frames"][0]["caption"] == "eta=0.50 kind=a"
    controls[1].value = "b"
    assert decode_sweep(view.frame)["frames"][0]["caption"] == "eta=0.50 kind=b"
    assert "recomputed in" in box.children[2].value


def test_without_anywidget_the_widget_falls_back_to_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import ipywidgets

    monkeypatch.setitem(sys.modules, "anywidget", None)  # import anywidget now raises ImportError
    monkeypatch.delitem(sys.modules, "nbcode.sweep.live", raising=False)
    box = sweep(draw_line, eta=Slider(0.1, 0.5, num=3)).widget()
    view = box.children[1]
    assert isinstance(view, ipywidgets.Image) and bytes(view.value)[:4] == b"\x89PNG"


def test_the_widgets_extra_installs_anywidget() -> None:
    """``pip install nbcode[widgets]`` must bring anywidget: without it the live sweeps fall back
    to the 30-100x slower matplotlib path. Read from the installed distribution's metadata."""
    from importlib.metadata import requires

    extra = [r.split(";")[0].strip() for r in requires("nbcode") or [] if 'extra == "widgets"' in r]
    names = {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].lower() for r in extra}
    assert {"anywidget", "ipywidgets", "ipython"} <= names, extra
