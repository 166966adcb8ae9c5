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
        "L = (1 − w₁w₂)²: the largest Hessian eigenvalue at the minimum (2, 0.5).",
        NumberAnswer(8.5, rtol=1e-6),
        hint="H = [[2w₂², 4w₁w₂ − 2], [4w₁w₂ − 2, 2w₁²]]; one eigenvalue is 0 (along the valley), so the other is the trace.",
    )
)

register(
    Exercise(
        "surfaces.monkey",
        "What does the second-order test say about the origin of the monkey saddle x³ − 3xy²?",
        ChoiceAnswer("degenerate", ["minimum", "maximum", "saddle", "degenerate"]),
        hint="Compute the Hessian [[6x, −6y], [−6y, −6x]] at (0, 0): what are its eigenvalues?",
    )
)

register(
    Exercise(
        "surfaces.escape_steps",
        "GD with η = 0.1 on x² − y² from (0, 10⁻⁶): after how many steps is the distance from the origin above 1?",
        NumberAnswer(76, rtol=0.0, atol=0.5),
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
        "surfaces.power_limit",
        "Power iteration on a symmetric H with eigenvalues −3, 1 and 2, from a random start: to which eigenvalue does the Rayleigh quotient vᵀHv converge?",
        NumberAnswer(-3.0, rtol=1e-9),
        hint="Each product multiplies the component along u_i by λ_i: the component with the largest |λ_i| wins, whatever its sign.",
    )
)

register(
    Exercise(
        "surfaces.hutchinson_variance",
        "Hutchinson's estimator zᵀHz with random signs z_i = ±1, for H = [[2, 1, 0], [1, 3, −2], [0, −2, 1]]: what is the variance of one probe?",
        NumberAnswer(20.0, rtol=1e-9),
        hint="zᵀHz = Σ_i H_ii + Σ_{i≠j} H_ij z_i z_j; the products z_i z_j (i < j) are independent signs. Var = 2 Σ_{i≠j} H_ij².",
    )
)
