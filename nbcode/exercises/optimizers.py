"""Exercises of the chapter "Optimizers" (``book/optimizers.ipynb``)."""

from __future__ import annotations

from nbcode.exercises.core import ChoiceAnswer, Exercise, FunctionAnswer, NumberAnswer, register


def _quickprop_next(w_prev: float, w: float, g_prev: float, g: float) -> float:
    """The secant (Quickprop) step from two points and their slopes."""
    return w - g * (w - w_prev) / (g - g_prev)


register(
    Exercise(
        "optimizers.effective_step",
        "With PyTorch's momentum (lr = 0.01, momentum = 0.9) and a constant gradient g = 2, what step size does the heavy ball settle to?",
        NumberAnswer(0.2, rtol=1e-6),
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
        "Write quickprop_next(w_prev, w, g_prev, g): the Quickprop (secant) estimate of the minimizer from two points.",
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
        "optimizers.torch_rprop",
        "Which Rprop does torch.optim.Rprop implement: 'Rprop+' (backtracks after a sign flip), 'Rprop-' "
        "(moves on with the shrunk step) or 'iRprop-' (skips the move)?",
        ChoiceAnswer("iRprop-", ["Rprop+", "Rprop-", "iRprop-"]),
        hint="After a sign change, does PyTorch move the weight back, move it on, or leave it for one step?",
    )
)

register(
    Exercise(
        "optimizers.no_bias_correction",
        "Without bias correction, Adam's first step is how many times η (β1 = 0.9, β2 = 0.999, ε = 0)? Derive it.",
        NumberAnswer(0.1 / 0.001**0.5, rtol=1e-4),
        hint="m_1 = (1 − β1) g_1 and v_1 = (1 − β2) g_1²: the step is η m_1 / √v_1.",
    )
)

register(
    Exercise(
        "optimizers.hb_edge",
        "The heavy ball (PyTorch's form, β = 0.5) on L = λw²/2 with λ = 1: the largest η for which it converges?",
        NumberAnswer(3.0, rtol=1e-6),
        hint="At the edge an eigenvalue of T(λ) is −1: put z = −1 into z² − (1 + β − ηλ)z + β = 0.",
    )
)

