"""Issue #16, second round (group S): defects an independent audit found in sweep, plot, exercises."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from nbcode.exercises import ChoiceAnswer, check, get


def _soft(z: np.ndarray, t: float) -> np.ndarray:
    return np.sign(z) * np.maximum(np.abs(z) - t, 0)


# --- 1. exercises: wrong answers judged wrong, the stored cases untouched ---------------------

def test_complex_function_result_is_wrong() -> None:
    v = check("regularization.soft_threshold", lambda z, t: _soft(z, t) + 5j)
    assert not v and "complex" in v.message


@pytest.mark.parametrize("answer", ["0.25", b"0.25"])
def test_string_number_answer_is_wrong(answer: object) -> None:
    v = check("intro.eta_opt", answer)
    assert not v and "give a number, not a string" in v.message.lower()


def test_string_pair_is_wrong() -> None:
    assert not check("norm.keras_port", ("0.01", "1e-3"))
    assert check("norm.keras_port", (1 - 0.99, 1e-3))


def test_complex_and_bool_number_answers_are_wrong() -> None:
    assert "complex" in check("intro.eta_opt", np.complex128(0.25 + 1j)).message
    assert "complex" in check("intro.eta_opt", 0.25 + 0j).message
    assert not check("intro.eta_max", True)


def test_huge_int_is_not_finite() -> None:
    v = check("intro.eta_opt", 10**400)
    assert not v and "finite" in v.message


def test_tensor_answers_are_judged() -> None:
    wrong = check("regularization.soft_threshold", lambda z, t: torch.tensor(z, requires_grad=True) * 1)
    assert not wrong and "expected" in wrong.message
    right = check("regularization.soft_threshold", lambda z, t: torch.tensor(_soft(z, t), requires_grad=True) * 1)
    assert right
    assert check("intro.eta_opt", torch.tensor(0.25, requires_grad=True))


def test_in_place_function_does_not_corrupt_cases() -> None:
    ex = get("regularization.soft_threshold")
    before = [tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in c) for c in ex.judge.cases]  # type: ignore[attr-defined]

    def f(z: np.ndarray, t: float) -> np.ndarray:
        np.clip(z, -t, t, out=z)
        return z * 0

    assert not check("regularization.soft_threshold", f)
    for old, new in zip(before, ex.judge.cases):  # type: ignore[attr-defined]
        for a, b in zip(old, new):
            np.testing.assert_array_equal(a, b)
    assert check("regularization.soft_threshold", _soft)
    assert "array([ 3. ,  0.5, -2. ])" in check("regularization.soft_threshold", lambda z, t: z * 0).message


def test_choice_answer_with_array_is_not_an_option() -> None:
    ok, detail = ChoiceAnswer(2, [1, 2, 3])(np.array([2, 3]))
    assert not ok and "one of" in detail
    assert ChoiceAnswer(2, [1, 2, 3])(np.int64(2))[0]


# --- 2. quantizer and sweeps: finite data beyond the float range, subnormal spans ----------------

from nbcode.plot.quantize import Quantizer, snap  # noqa: E402
from nbcode.sweep import Choice, Plot, Slider, sweep  # noqa: E402


@pytest.mark.parametrize("lo, hi", [(-1e308, 1.7e308), (-1.7976931348623157e308, 1.7976931348623157e308)])
def test_quantizer_span_beyond_float_range(lo: float, hi: float) -> None:
    q = Quantizer.for_axis([lo, hi], False)
    assert q.key == (1, 305, False)
    out = snap([lo, 0.0, hi], q)
    assert np.all(np.isfinite(out)) and out[1] == 0.0
    np.testing.assert_allclose(out[[0, 2]], [lo, hi], rtol=1e-3)
    assert q.number(hi) is not None and np.isfinite(q.number(hi))  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [[1e-320, 2e-320], [0.0, 1e-310], [5e-324, 5e-324], [1e-306, 1e-306]])
def test_quantizer_subnormal_span_is_degenerate(data: list[float]) -> None:
    q = Quantizer.for_axis(data, False)
    assert q.key == (1, -3, False)
    assert snap(data, q).tolist() == [0.0, 0.0]


def test_quantizer_unchanged_near_the_edge() -> None:
    """The smallest spans that worked before keep their step (no figure moves)."""
    q = Quantizer.for_axis([2.5881824180185456e-302, 2.5881824180185456e-302], False)
    assert q.key == (2, -306, False)


def _diverging(lr: float) -> Plot:
    p = Plot()
    p[0].plot([0, 1, 2], [1.0, -1e308 * lr, 1.7e308 * lr])
    return p


def test_sweep_html_with_data_beyond_float_range() -> None:
    s = sweep(_diverging, lr=Slider(0.5, 1.0, num=2))
    assert "nbcode-sweep-data" in s.to_html()


def test_sweep_html_with_huge_limits_and_subnormal_data() -> None:
    def lim(lr: float) -> Plot:
        p = Plot()
        p[0].plot([0, 1], [0, lr]).set(ylim=(-1e308, 1e308))
        return p

    def tiny(lr: float) -> Plot:
        p = Plot()
        p[0].plot([0, 1], [1e-320 * lr, 2e-320])
        return p

    assert "nbcode-sweep-data" in sweep(lim, lr=Slider(0.5, 1.0, num=2)).to_html()
    s = sweep(tiny, lr=Slider(0.5, 1.0, num=2))
    assert "nbcode-sweep-data" in s.to_html()
    assert s.render_png(lr=1.0)[:4] == b"\x89PNG"


def test_render_error_names_the_frame() -> None:
    s = sweep(_diverging, lr=Slider(0.5, 1.0, num=2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # matplotlib's own overflow warnings
        with pytest.raises(RuntimeError, match=r"frame at lr=1\.0 .*largest float"):
            s.render_png(lr=1.0)


# --- 3. a bad format spec is refused when the slider is made --------------------------------------

from nbcode.sweep import Sweep  # noqa: E402


def test_slider_bad_fmt_refused_at_construction() -> None:
    with pytest.raises(ValueError, match=r"Invalid fmt: 'd' .*Unknown format code"):
        Slider(0.1, 1, num=3, fmt="d")
    assert Slider(1, 5, num=5, integer=True, fmt="d").labels == ["1", "2", "3", "4", "5"]  # fmt unused
    assert Slider(0.0, 1.0, num=5, fmt=".2f").labels[1] == "0.25"


# --- 4. a control named like sweep's own keywords -------------------------------------------------

def _titled(title: float, max_frames: float = 1.0, max_bytes: float = 1.0) -> Plot:
    p = Plot()
    p[0].plot([0, 1], [0, title * max_frames * max_bytes])
    return p


@pytest.mark.parametrize("name", ["title", "max_frames", "max_bytes"])
def test_control_named_like_sweep_keyword(name: str) -> None:
    kw = {name: Slider(0.1, 1.0, num=3)}
    if name != "title":
        kw["title"] = Slider(0.1, 1.0, num=3)  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"sweep's own keyword.*Sweep\(_titled, \{"):
        sweep(_titled, **kw)  # type: ignore[arg-type]


def test_controls_as_a_dict_avoid_the_collision() -> None:
    s = Sweep(_titled, {"title": Slider(0.1, 1.0, num=3), "max_frames": Choice([1.0, 2.0])})
    assert s.initial() == {"title": 0.55, "max_frames": 1.0}
    assert "nbcode-sweep-data" in s.to_html()


# --- 5. slider labels tell the values apart -------------------------------------------------------

def test_slider_default_labels_get_enough_digits() -> None:
    assert Slider(values=[1.0001, 1.0002, 1.0003]).labels == ["1.0001", "1.0002", "1.0003"]
    assert Slider(values=[1.0, 1.0 + 2**-52]).labels == ["1", "1.0000000000000002"]
    assert Slider(0.1, 1.0, num=3).labels == ["0.1", "0.55", "1"]  # distinct at '.3g': unchanged


def test_slider_explicit_fmt_with_equal_labels_refused() -> None:
    with pytest.raises(ValueError, match=r"Invalid fmt: '\.0f' gives several slider values the same label"):
        Slider(0.1, 1.0, num=3, fmt=".0f")


# --- 6. Choice options compared safely ------------------------------------------------------------

def test_choice_of_arrays() -> None:
    c = Choice([np.array([1, 2]), np.array([3, 4])], value=np.array([3, 4]))
    assert c.index == 1
    with pytest.raises(ValueError, match="not one of the options"):
        Choice([np.array([1, 2])], value=np.array([1, 2, 3]))
    assert Choice([1, 2, 3], value=np.int64(3)).index == 2
    assert Choice([("a", 1.0), ("b", 2.0)], value=2).index == 1
