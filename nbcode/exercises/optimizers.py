"""Exercises of the chapter "Optimizers" (``book/optimizers.ipynb``)."""

from __future__ import annotations

from nbcode.exercises.core import Exercise, FunctionAnswer, NumberAnswer, register


def _quickprop_next(w_prev: float, w: float, g_prev: float, g: float) -> float:
    """The secant (Quickprop) step from two points and their slopes."""
    return w - g * (w - w_prev) / (g - g_prev)


register(
    Exercise(
        "optimizers.effective_step",
        "With PyTorch's momentum (lr = 0.02, momentum = 0.95) and a constant gradient g = 3, what step size does the heavy ball settle to?",
        NumberAnswer(1.2, rtol=1e-6),
        hint="The buffer tends to g / (1 - β); the step is lr times the buffer.",
    )
)

register(
    Exercise(
        "optimizers.hb_rate",
        "A quadratic has κ = 400. What is the heavy ball's rate at Polyak's best (η, β)?",
        NumberAnswer(19.0 / 21.0, rtol=1e-4),
        hint="(√κ − 1)/(√κ + 1).",
    )
)

register(
    Exercise(
        "optimizers.quickprop",
        "Write quickprop_next(w_prev, w, g_prev, g): the Quickprop (secant) estimate of the minimizer from two points "
        "(assume g != g_prev).",
        FunctionAnswer(_quickprop_next, [(0.0, 1.0, -2.0, 1.0), (3.0, 2.0, 4.0, 1.0), (1.0, 1.5, 0.3, 0.2), (-1.0, 0.5, -6.0, 3.0)]),
        hint="Fit the slope as a straight line through (w_prev, g_prev) and (w, g) and solve for where it is zero.",
    )
)

register(
    Exercise(
        "optimizers.linear_scaling",
        "A model trains well with B = 128 and η = 0.05. By the linear scaling rule, which η goes with B = 1024?",
        NumberAnswer(0.4, rtol=1e-6),
        hint="η grows in proportion to B (with a warm-up at the start).",
    )
)

register(
    Exercise(
        "optimizers.hb_complex_range",
        "κ = 100 (eigenvalues in [0.01, 1]) and the heavy ball with β = 0.81: its rate is exactly √β = 0.9 for a range "
        "of η. What is the largest η of that range?",
        NumberAnswer(3.61, rtol=1e-4),
        hint="The roots of z² − (1 + β − ηλ)z + β are complex while (1 − √β)² ≤ ηλ ≤ (1 + √β)²; the largest λ is 1.",
    )
)

register(
    Exercise(
        "optimizers.no_bias_correction",
        "Without bias correction (ε = 0, β1 = 0.9), which β2 makes Adam's first step exactly η? Derive the step first.",
        NumberAnswer(0.99, rtol=1e-4),
        hint="m_1 = (1 − β1) g_1 and v_1 = (1 − β2) g_1²: the step is η m_1 / √v_1 = η (1 − β1)/√(1 − β2) in size.",
    )
)

register(
    Exercise(
        "optimizers.hb_edge",
        "The heavy ball (PyTorch's form, β = 0.5) on L = λw²/2 with λ = 1: at which η does the spectral radius reach 1 "
        "(the edge: every smaller η > 0 converges)?",
        NumberAnswer(3.0, rtol=1e-6),
        hint="At the edge an eigenvalue of T(λ) is −1: put z = −1 into z² − (1 + β − ηλ)z + β = 0.",
    )
)

