"""Gradient descent on the 1-D quadratic: the loop against the closed form (w_k − w* = r^k (w_0 − w*))."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nbcode.optim import gd_path
from nbcode.quadratic import Quadratic1D, contraction_factor, regime, steps_to_tolerance


@pytest.mark.parametrize("lr", [0.05, 0.3, 0.5, 0.8, 0.99, 1.0, 1.2])
def test_path_matches_closed_form(lr: float) -> None:
    q = Quadratic1D(a=2.0, b=-3.0, c=1.0)
    w = gd_path(q, 4.0, lr, 30)
    k = np.arange(31)
    r = contraction_factor(lr, q.a)
    np.testing.assert_allclose(w - q.w_star, r**k * (4.0 - q.w_star), rtol=1e-10, atol=1e-13)


def test_loss_and_gradient() -> None:
    q = Quadratic1D(a=3.0, b=1.0, c=2.0)
    w = np.linspace(-2, 2, 9)
    h = 1e-6
    np.testing.assert_allclose(q.grad(w), (q(w + h) - q(w - h)) / (2 * h), rtol=1e-7)
    assert q.grad(q.w_star) == pytest.approx(0.0, abs=1e-15)
    assert q.eta_opt == pytest.approx(1 / 3)


def test_regimes_at_the_boundaries() -> None:
    a = 4.0
    assert regime(0.0, a) == "stuck"
    assert regime(0.1, a) == "monotone"
    assert regime(0.25, a) == "one step"
    assert regime(0.3, a) == "oscillating"
    assert regime(0.5, a) == "cycling"
    assert regime(0.51, a) == "divergent"


def test_steps_to_tolerance_is_the_first_k_below_tol() -> None:
    q = Quadratic1D(a=1.0)
    for lr in (0.1, 0.5, 1.5, 1.9):
        n = steps_to_tolerance(lr, q.a, 1.0, 1e-6)
        d = np.abs(gd_path(q, 1.0, lr, int(n)))
        assert d[-1] <= 1e-6 < d[-2]
    assert steps_to_tolerance(1.0, 1.0, 1.0, 1e-6) == 1
    assert steps_to_tolerance(2.5, 1.0, 1.0, 1e-6) == math.inf
    assert steps_to_tolerance(0.5, 1.0, 1e-9, 1e-6) == 0


def test_divergence_is_shown_not_crashed_on() -> None:
    """|w_k| = 2^k: the path follows the closed form until it leaves the ball of radius 1e6
    (2^19 < 1e6 < 2^20), then it is NaN (optim's one divergence rule)."""
    w = gd_path(Quadratic1D(a=1.0), 1.0, 3.0, 2000)
    assert w[10] == pytest.approx((-2.0) ** 10)
    assert w[19] == pytest.approx((-2.0) ** 19) and np.all(np.isnan(w[20:]))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: contraction_factor(-1, 1.0), "Invalid learning rate: -1"),
        (lambda: contraction_factor(float("nan"), 1.0), "Invalid learning rate: nan"),
        (lambda: Quadratic1D(a=0.0), "Invalid curvature: 0.0"),
        (lambda: Quadratic1D(a=1.0, b=float("inf")), "Invalid coefficient b"),
        (lambda: gd_path(Quadratic1D(1.0), 0.0, 0.1, -1), "Invalid steps: -1"),
        (lambda: gd_path(Quadratic1D(1.0), float("nan"), 0.1, 3), "Invalid starting point"),
        (lambda: steps_to_tolerance(0.1, 1.0, 1.0, 0.0), "Invalid tolerance"),
    ],
)
def test_bad_input(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]
