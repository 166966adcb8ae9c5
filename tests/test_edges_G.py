"""Bad input to the sweeps, the figures' quantization and the exercises is refused at the door,
with a message that names the argument (one test per message format); valid calls are unchanged."""

from __future__ import annotations

import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from nbcode.exercises import ChoiceAnswer, FunctionAnswer, NumberAnswer, check
from nbcode.plot import snap_figure
from nbcode.plot.quantize import Quantizer, snap, snap_field
from nbcode.sweep import Choice, Plot, Slider, Sweep, sweep
from nbcode.sweep.encode import FramePool, decode_array, decode_sweep, encode_array
from nbcode.sweep.figure import Background


def draw(eta: float) -> Plot:
    p = Plot()
    p[0].plot([0.0, 1.0], [1.0, 1.0 - eta])
    return p


# ---- controls


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(start="0", stop=1.0, num=3), TypeError, r"Invalid start: '0' \(need a real number\)"),
    (dict(start=0.0, stop=True, num=3), TypeError, r"Invalid stop: True \(need a real number\)"),
    (dict(start=0.0, stop=1.0, num=3.0), TypeError, r"Invalid number of slider positions: 3.0 \(need an integer\)"),
    (dict(start=0.0, stop=1.0, num=3, value=float("nan")), ValueError, r"Invalid value: nan \(need a finite number\)"),
    (dict(start=0.0, stop=1.0, num=3, value=[0.5]), TypeError, r"Invalid value: \[0.5\]"),
    (dict(start=0.0, stop=1.0, num=3, integer=None), TypeError, r"Invalid integer: None \(need True or False\)"),
    (dict(start=0.0, stop=1.0, num=3, fmt=3), TypeError, r"Invalid fmt: 3 \(need a string\)"),
    (dict(values=[1 + 1j, 2]), TypeError, r"Invalid values: .* \(need real numbers, got dtype complex128\)"),
])
def test_slider_refuses_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Slider(**kwargs)


def test_control_positions_are_checked() -> None:
    s, c = Slider(0.0, 1.0, 3), Choice(["a", "b"])
    assert s.python_value(np.int64(2)) == 1.0 and c.python_value(1) == "b"
    with pytest.raises(ValueError, match=r"Invalid i: -1 \(need 0 <= i <= 2\)"):
        s.python_value(-1)
    with pytest.raises(TypeError, match=r"Invalid i: True \(need an integer, not a bool\)"):
        c.python_value(True)
    with pytest.raises(TypeError, match=r"Invalid options: 'ab' \(need a list of options\)"):
        Choice("ab")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid initial choice: value='c' is not one of the options"):
        Choice(["a", "b"], value="c")


def test_sweep_refuses_bad_arguments() -> None:
    a = Slider(0.0, 1.0, 3)
    with pytest.raises(TypeError, match=r"Invalid draw: 3 \(need a callable\)"):
        Sweep(3, {"eta": a})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid controls: None \(need a dict of name -> Slider or Choice\)"):
        Sweep(draw, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid max_frames: 2500.0 \(need an integer\)"):
        sweep(draw, eta=a, max_frames=2500.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid max_bytes: -1 \(need max_bytes >= 1\)"):
        sweep(draw, eta=a, max_bytes=-1)
    s = sweep(draw, eta=a)
    assert s.params_at((np.int64(2),)) == {"eta": 1.0}
    with pytest.raises(ValueError, match=r"Invalid indices: \(\) \(need one index per control, 1\)"):
        s.params_at(())
    with pytest.raises(ValueError, match=r"Invalid indices: \(3,\) \(control 'eta' has 3 positions\)"):
        s.params_at((3,))
    with pytest.raises(ValueError, match=r"Invalid indices: \[-1\] \(need integers >= 0\)"):
        s.params_at([-1])  # type: ignore[arg-type]


# ---- figures


def test_plot_and_axes_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"Invalid width: nan \(need a finite number\)"):
        Plot(width=float("nan"))
    with pytest.raises(TypeError, match=r"Invalid height: '3' \(need a real number\)"):
        Plot(height="3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid fast: 'yes' \(need True or False\)"):
        draw(0.5).to_matplotlib(fast="yes")  # type: ignore[arg-type]
    ax = Plot()[0]
    with pytest.raises(ValueError, match=r"Invalid shape of y: \(2, 2\) \(need one dimension: a line is a vector\)"):
        ax.plot([0.0, 1.0, 2.0, 3.0], np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"Invalid marker: None \(use one of"):
        ax.scatter([0.0], [1.0], marker=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid color: 'no-such-colour' \(need a palette index"):
        ax.plot([0.0], [1.0], color="no-such-colour")
    with pytest.raises(TypeError, match=r"Invalid color: None"):
        ax.axhline(0.5, color=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid xlim: 0.5 \(two different finite numbers\)"):
        ax.set(xlim=0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid ylim: \('a', 1.0\) \(need real numbers"):
        ax.set(ylim=("a", 1.0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid ax: None \(need matplotlib axes\)"):
        ax.draw(None)


def test_a_column_vector_is_a_line() -> None:
    a, b = Plot()[0], Plot()[0]
    a.plot(np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]]))
    b.plot([0.0, 1.0], [2.0, 3.0])
    assert a.lines[0].x.tolist() == b.lines[0].x.tolist() and a.lines[0].y.tolist() == b.lines[0].y.tolist()


def test_contour_arguments() -> None:
    x, y = np.array([0.0, 1.0]), np.array([0.0, 1.0, 2.0])
    z = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, -np.inf]])  # log 0 where the surface has its minimum: a gap
    Plot()[0].contour(x, y, z, levels=3)
    with pytest.raises(ValueError, match=r"Invalid x: it contains NaN or infinity"):
        Plot()[0].contour([0.0, np.nan], y, z)
    with pytest.raises(TypeError, match=r"Invalid levels: None"):
        Plot()[0].contour(x, y, z, levels=None)
    with pytest.raises(ValueError, match=r"Invalid levels: \[1.0, 0.5\] \(need an integer or increasing values\)"):
        Plot()[0].contour(x, y, z, levels=[1.0, 0.5])
    with pytest.raises(ValueError, match=r"Invalid cmap: 'no-such-map' \(need the name of a matplotlib colormap"):
        Plot()[0].contour(x, y, z, cmap="no-such-map")
    bg = Background(x, y, z)
    with pytest.raises(ValueError, match=r"Invalid width_px: 0 \(need width_px >= 1\)"):
        bg.to_png_data_uri(0, 4)


def test_snap_figure_needs_a_figure() -> None:
    with pytest.raises(TypeError, match=r"Invalid fig: None \(need a matplotlib Figure\)"):
        snap_figure(None)  # type: ignore[arg-type]
    assert isinstance(snap_figure(Figure()), Figure)


# ---- quantization


def test_quantizer_refuses_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"Invalid lo: 'a' \(need a real number\)"):
        Quantizer("a", 1.0, False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid log: 'yes' \(need True or False\)"):
        Quantizer(0.0, 1.0, "yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid hi: 0.0 \(need hi >= lo = 1.0\)"):
        Quantizer(1.0, 0.0, False)
    q = Quantizer(0.0, 1.0, False)
    assert q.count(float("nan")) is None and q.count(None) is None and q.number(np.float32(0.5)) == 0.5
    with pytest.raises(TypeError, match=r"Invalid v: '0.5' \(need a real number or None\)"):
        q.count("0.5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid values: None \(need real numbers, got dtype object\)"):
        q.counts(None)
    with pytest.raises(TypeError, match=r"Invalid q: None \(need a Quantizer\)"):
        snap([0.5], None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid shape of z: \(2,\) \(need 2 dimensions\)"):
        snap_field([0.0, 1.0])
    with pytest.raises(ValueError, match=r"Invalid steps: 0 \(need steps > 0\)"):
        snap_field([[0.0, 1.0]], steps=0)
    with pytest.raises(TypeError, match=r"Invalid data: \['a'\] \(need real numbers; None, NaN and inf are skipped\)"):
        Quantizer.for_axis(["a"], False)
    with pytest.raises(ValueError, match=r"Invalid lim: it contains NaN or infinity"):
        Quantizer.for_axis([], False, (float("nan"), 1.0))
    with pytest.raises(ValueError, match=r"Invalid shape of lim: \(3,\) \(need \(2,\)\)"):
        Quantizer.for_axis([], False, (0.0, 0.5, 1.0))
    assert Quantizer.for_axis([0.0, None, float("nan"), 1.0], False).key == (1, -3, False)


# ---- the payload


def test_payload_functions_refuse_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"Invalid plot: None \(a sweep's drawing function must return an nbcode.sweep.Plot"):
        FramePool().add(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid controls: 'x' \(need a list of dicts\)"):
        FramePool().to_json("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid a: 'abc' \(need real numbers"):
        encode_array("abc")
    with pytest.raises(TypeError, match=r"Invalid log: None \(need True or False\)"):
        encode_array([0.5], log=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid item: None \(need a dict"):
        decode_array(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid item: \{'q': 1\} \(not an encoded array"):
        decode_array({"q": 1})
    with pytest.raises(ValueError, match=r"Invalid doc: 'not json' \(not a sweep document: JSONDecodeError"):
        decode_sweep("not json")
    with pytest.raises(TypeError, match=r"Invalid doc: 3 \(need a sweep's JSON document"):
        decode_sweep(3)  # type: ignore[arg-type]
    doc = sweep(draw, eta=Slider(0.0, 1.0, 3)).to_json()
    assert decode_sweep(doc) == decode_sweep(json.loads(doc))


# ---- exercises


def test_answers_refuse_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"Invalid value: '1' \(need a real number\)"):
        NumberAnswer("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid rtol: nan \(need a finite number\)"):
        NumberAnswer(1.0, rtol=math.nan)
    with pytest.raises(ValueError, match=r"Invalid tolerance: rtol=0.001, atol=-1 \(need atol >= 0\)"):
        NumberAnswer(1.0, atol=-1)
    with pytest.raises(TypeError, match=r"Invalid options: 'ab' \(need a non-empty list of options\)"):
        ChoiceAnswer("a", "ab")
    with pytest.raises(ValueError, match=r"Invalid choice answer: value=3 is not among the options \['a'\]"):
        ChoiceAnswer(3, ["a"])
    with pytest.raises(TypeError, match=r"Invalid reference: None \(need a callable\)"):
        FunctionAnswer(None, [(1.0,)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid cases: 'ab' \(need a list of argument tuples\)"):
        FunctionAnswer(abs, "ab")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid cases: a FunctionAnswer needs at least one test case"):
        FunctionAnswer(abs, [])
    with pytest.raises(ValueError, match=r"Invalid atol: -1 \(need atol >= 0\)"):
        FunctionAnswer(abs, [(1.0,)], atol=-1)


def test_a_function_answer_of_the_wrong_shape_is_not_correct() -> None:
    def gd(a: float, b: float, w0: float, lr: float, steps: int) -> np.ndarray:
        w = [w0]
        for _ in range(steps):
            w.append(w[-1] - lr * (a * w[-1] + b))
        return np.array(w)

    assert check("intro.gd_path", gd)
    row = check("intro.gd_path", lambda *args: gd(*args)[None, :])  # broadcasts against the right answer
    assert not row and "it returned shape (1, 6), expected shape (6,)" in repr(row)
    assert FunctionAnswer(lambda x: 2 * x, [(1.0,)])(lambda x: np.float64(2 * x)) == (True, "passed all 1 test cases")
