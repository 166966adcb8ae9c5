"""Exercises of the chapter "Your own model: a checkup" (``book/checkup.ipynb``)."""

from __future__ import annotations

from nbcode.exercises.core import ChoiceAnswer, Exercise, NumberAnswer, register

register(
    Exercise(
        "checkup.momentum_limit",
        "λ_max = 4 and SGD with momentum 0.9 (PyTorch's convention): the largest stable learning rate.",
        NumberAnswer(2 * (1 + 0.9) / 4.0, rtol=1e-3),
        hint="The heavy ball on a quadratic is stable for 0 < ηλ < 2(1 + β); solve for η at λ = λ_max.",
    )
)

register(
    Exercise(
        "checkup.b_simple",
        "E‖g_B‖² is 3.0 at B = 4 and 1.5 at B = 16: the gradient-noise scale B_simple = tr Σ / |G|².",
        # |G|^2 + S/4 = 3, |G|^2 + S/16 = 1.5  =>  S = 8, |G|^2 = 1
        NumberAnswer(8.0, rtol=1e-3),
        hint="E‖g_B‖² = |G|² + tr Σ / B at both sizes: two equations for |G|² and tr Σ.",
    )
)

register(
    Exercise(
        "checkup.bn_norm",
        "A Linear layer feeds a BatchNorm. Under plain gradient descent, its weight norm ‖W‖ ...",
        ChoiceAnswer("grows", ["grows", "shrinks", "stays the same"]),
        hint="The gradient is orthogonal to W, so ‖W − ηg‖² = ‖W‖² + η²‖g‖².",
    )
)
