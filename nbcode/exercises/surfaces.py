"""Exercises of the chapter "Loss surfaces, critical points and the Hessian" (``book/loss_surfaces.ipynb``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nbcode.exercises.core import ChoiceAnswer, Exercise, FunctionAnswer, NumberAnswer, register


def _taylor_change(g: Any, H: Any, lr: float) -> float:
    g = np.asarray(g, dtype=float)
    return float(-lr * g @ g + 0.5 * lr**2 * g @ np.asarray(H, dtype=float) @ g)


register(
    Exercise(
        "surfaces.valley_curvature",
        "L = (1 − w₁w₂)²: the largest Hessian eigenvalue at the minimum (−4, −0.25).",
        NumberAnswer(32.125, rtol=1e-6),
        hint="H = [[2w₂², 4w₁w₂ − 2], [4w₁w₂ − 2, 2w₁²]]; one eigenvalue is 0 (along the valley), so the other is the trace.",
    )
)

register(
    Exercise(
        "surfaces.degenerate_test",
        "What does the second-order test say about the origin of L₄ = x² + y⁴ (and of L₃ = x² + y³)?",
        ChoiceAnswer("degenerate", ["minimum", "maximum", "saddle", "degenerate"]),
        hint="Both Hessians at (0, 0) are [[2, 0], [0, 0]]: one positive eigenvalue and one zero.",
    )
)

register(
    Exercise(
        "surfaces.degenerate_minimum",
        "Which of L4 = x² + y⁴ and L3 = x² + y³ has a minimum at the origin: 'L4', 'L3', 'both' or 'neither'?",
        ChoiceAnswer("L4", ["L4", "L3", "both", "neither"]),
        hint="The second-order test cannot decide; look at L along the y axis, for y > 0 and y < 0.",
    )
)

register(
    Exercise(
        "surfaces.escape_steps",
        "GD with η = 0.1 on x² − y² from (0, 10⁻⁶): the first step k (an integer) at which the distance from the origin is above 1.",
        NumberAnswer(76, rtol=0.0, atol=0.01),
        hint="y is multiplied by 1 + 2η each step; find the first k with 10⁻⁶ (1.2)^k > 1.",
    )
)

register(
    Exercise(
        "surfaces.taylor_step",
        "Write delta_L(g, H, lr): the second-order prediction of the change of L after the step −lr·g.",
        FunctionAnswer(
            _taylor_change,
            [
                (np.array([1.0, 0.0]), np.eye(2), 0.5),
                (np.array([1.0, -2.0]), np.array([[3.0, 1.0], [1.0, 2.0]]), 0.1),
                (np.array([0.5, 0.5, 1.0]), np.diag([10.0, 1.0, 0.1]), 1.0),
            ],
        ),
        hint="ΔL ≈ gᵀ(−lr g) + ½ (−lr g)ᵀ H (−lr g).",
    )
)


register(
    Exercise(
        "surfaces.power_shift",
        "H has eigenvalues −3, 1 and 2: which shift c ≥ 0 makes power iteration on H + cI converge fastest to the eigenvector of λ = 2?",
        NumberAnswer(1.0, rtol=0.0, atol=1e-3),
        hint="H + cI has eigenvalues c − 3, c + 1, c + 2; the error shrinks by (|second largest| / |largest|)² per product.",
    )
)

register(
    Exercise(
        "surfaces.gaussian_probe_variance",
        "Hutchinson's estimator zᵀHz with Gaussian probes z ~ N(0, I), for H = [[2, 1, 0], [1, 3, −2], [0, −2, 1]]: what is the variance of one probe?",
        NumberAnswer(48.0, rtol=1e-9),
        hint="In the eigenbasis of H, zᵀHz = Σ_i λ_i ξ_i² with independent standard normal ξ_i, and Var(ξ²) = 2.",
    )
)
