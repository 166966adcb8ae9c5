"""Exercises of the chapter "How to use this book" (``book/intro.ipynb``)."""

from __future__ import annotations

import numpy as np

from nbcode.exercises.core import Exercise, FunctionAnswer, NumberAnswer, register
from nbcode.optim import gd_path
from nbcode.quadratic import Quadratic1D


def _reference_path(a: float, b: float, w0: float, lr: float, steps: int) -> np.ndarray:
    return gd_path(Quadratic1D(a, b), w0, lr, steps)


register(
    Exercise(
        "intro.eta_opt",
        "For L(w) = 2w², which learning rate reaches the minimum in exactly one step?",
        NumberAnswer(0.25, rtol=1e-6),
        hint="L''(w) = a; the step that lands on the minimum is η = 1/a. What is a for 2w²?",
    )
)

register(
    Exercise(
        "intro.eta_max",
        "For L(w) = 2w² (w_0 ≠ 0), what is the smallest positive learning rate at which gradient descent no longer converges?",
        NumberAnswer(0.5, rtol=1e-6),
        hint="The distance to the minimum is multiplied by 1 − ηa each step; find where |1 − ηa| reaches 1.",
    )
)

register(
    Exercise(
        "intro.gd_path",
        "Write gd(a, b, w0, lr, steps) returning the steps + 1 gradient-descent iterates on L(w) = ½aw² + bw.",
        FunctionAnswer(
            _reference_path,
            [(1.0, 0.0, 1.0, 0.5, 5), (4.0, -2.0, 3.0, 0.1, 8), (2.0, 1.0, -1.0, 0.9, 6), (1.0, 0.0, 1.0, 2.5, 4)],
        ),
        hint="Return steps + 1 values as an array, starting with w0.",
    )
)

register(
    Exercise(
        "intro.steps_to_tol",
        "Gradient descent on L(w) = w² − 2w (a = 2) with η = 0.1: after how many steps is |w_k − w*| below 10⁻⁶ |w_0 − w*| for the first time?",
        NumberAnswer(62, rtol=0.0, atol=0.5),
        hint="|w_k − w*| = |r|^k |w_0 − w*| with r = 1 − ηa; find the smallest k with |r|^k < 10⁻⁶.",
    )
)


def _gap_factor(answer: object) -> tuple[bool, str]:
    """0.64 = r², the number the loss gap is multiplied by; 1/0.64 gets its own message."""
    ok, detail = NumberAnswer(0.64, rtol=1e-9)(answer)
    if not ok and NumberAnswer(1 / 0.64, rtol=1e-9)(answer)[0]:
        return False, "that is the gap divided by the next one; give the number the gap is multiplied by, between 0 and 1"
    return ok, detail


register(
    Exercise(
        "intro.gap_factor",
        "Same run (a = 2, η = 0.1): by what number is the loss gap L(w_k) − L(w*) multiplied at each step (a number between 0 and 1)?",
        _gap_factor,
        hint="L(w) − L(w*) = ½ a (w − w*)²: the error is multiplied by r, so the gap by r².",
    )
)
