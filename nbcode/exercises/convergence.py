"""Exercises of the chapter "Convergence of gradient descent, η_opt and learning-rate schedules"
(``book/convergence.ipynb``)."""

from __future__ import annotations

import math

from nbcode.exercises.core import ChoiceAnswer, Exercise, FunctionAnswer, NumberAnswer, register
from nbcode.quadratic import best_fixed_lr, predicted_iterations


def warmup_cosine_reference(k: int, lr: float, warmup_iters: int, total_steps: int) -> float:
    """Linear warmup ``lr * (k + 1) / warmup_iters`` for ``k < warmup_iters``, then cosine from
    ``lr`` down to 0 at ``k = total_steps``."""
    if k < warmup_iters:
        return lr * (k + 1) / warmup_iters
    t = (k - warmup_iters) / (total_steps - warmup_iters)
    return lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


register(
    Exercise(
        "convergence.best_lr",
        "A quadratic's Hessian has eigenvalues 0.5 and 4.5. Which fixed learning rate makes gradient descent converge fastest?",
        NumberAnswer(best_fixed_lr([0.5, 4.5]), rtol=1e-6),
        hint="The best step balances the slowest and the fastest direction: 1 - ηλ_min = -(1 - ηλ_max).",
    )
)

register(
    Exercise(
        "convergence.iterations",
        "With κ = 100 and the best fixed step, how many iterations guarantee ‖w_k − w*‖ ≤ 10⁻⁶ ‖w_0 − w*‖?",
        NumberAnswer(predicted_iterations(100.0, 1e-6), rtol=0.0, atol=0.5),
        hint="Each step multiplies the error by at most ρ = (κ − 1)/(κ + 1); find the smallest k with ρ^k ≤ 10⁻⁶.",
    )
)

register(
    Exercise(
        "convergence.warmup_cosine",
        "Write warmup_cosine(k, lr, warmup_iters, total_steps): linear warmup to lr, then cosine decay to 0.",
        FunctionAnswer(
            warmup_cosine_reference,
            [(0, 0.1, 10, 100), (4, 0.1, 10, 100), (9, 0.1, 10, 100), (10, 0.1, 10, 100), (55, 0.1, 10, 100),
             (99, 0.1, 10, 100), (100, 0.1, 10, 100), (3, 1.0, 5, 20), (12, 1.0, 5, 20)],
        ),
        hint="For k < warmup_iters return lr·(k+1)/warmup_iters; after, t = (k − W)/(T − W) and lr·(1 + cos πt)/2.",
    )
)

register(
    Exercise(
        "convergence.floor_ratio",
        "Constant-step SGD on least squares, batches drawn with replacement: the batch size goes from 8 to 32 at the same small η. By what factor does the noise floor fall?",
        NumberAnswer(4.0, rtol=0.02),
        hint="The stationary excess loss is about η·tr(S)/(4B): what happens when B is multiplied by 4?",
    )
)

register(
    Exercise(
        "convergence.robbins_monro",
        "Which schedule meets both Robbins–Monro conditions: 'constant', 'exponential', 'inverse_sqrt' (η₀/√(k+1)) or 'inverse_time' (η₀/(k+1))?",
        ChoiceAnswer("inverse_time", ["constant", "exponential", "inverse_sqrt", "inverse_time"]),
        hint="Σ η_k must diverge and Σ η_k² must converge; check both sums for each schedule.",
    )
)
