"""Exercises of the chapter "Convergence of gradient descent, η_opt and learning-rate schedules"
(``book/convergence.ipynb``)."""

from __future__ import annotations

import math

import numpy as np

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
        "With κ = 50 and the best fixed step, how many iterations guarantee ‖w_k − w*‖ ≤ 10⁻⁸ ‖w_0 − w*‖?",
        NumberAnswer(predicted_iterations(50.0, 1e-8), rtol=0.0, atol=0.5),
        hint="Each step multiplies the error by at most ρ = (κ − 1)/(κ + 1); find the smallest k with ρ^k ≤ 10⁻⁸.",
    )
)

register(
    Exercise(
        "convergence.warmup_cosine",
        "Write warmup_cosine(k, lr, warmup_iters, total_steps) (total_steps > warmup_iters): linear warmup to lr, "
        "then cosine decay to 0.",
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
        "Which schedule meets both Robbins–Monro conditions: 'inverse_sqrt' (η₀/√(k+1)), 'inverse_square' (η₀/(k+1)²), "
        "'k_log_k' (η₀/((k+2) ln(k+2))) or 'k_log2_k' (η₀/((k+2) ln²(k+2)))?",
        ChoiceAnswer("k_log_k", ["inverse_sqrt", "inverse_square", "k_log_k", "k_log2_k"]),
        hint="Σ η_k must diverge and Σ η_k² must converge; compare each sum with an integral (∫ dx/(x ln x) = ln ln x).",
    )
)


def _plateau_lrs(losses: list[float], lr: float, factor: float, patience: int) -> np.ndarray:
    from nbcode.schedules import reduce_lr_on_plateau

    rule = reduce_lr_on_plateau(factor=factor, patience=patience)
    state = rule.init(lr)
    out = []
    for loss in losses:
        state = rule.update(loss, state)
        out.append(state.lr)
    return np.array(out)


register(
    Exercise(
        "convergence.plateau",
        "Write plateau(losses, lr, factor, patience): the learning rate after each loss, as torch's ReduceLROnPlateau "
        "(mode 'min', relative threshold 1e-4, no cooldown) sets it.",
        FunctionAnswer(
            _plateau_lrs,
            [
                ([1.0, 0.9, 0.9, 0.9, 0.9, 0.9], 0.1, 0.5, 2),
                ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 1.0, 0.1, 1),
                ([3.0, 2.0, 1.99999, 1.9999, 1.5, 1.6, 1.7, 1.8, 1.9, 1.4], 0.2, 0.5, 2),
                ([1.0, 0.5, 0.25, 0.125], 0.1, 0.1, 0),
            ],
            rtol=1e-12, atol=0.0,
        ),
        hint="Keep the best loss; a loss counts as an improvement only below best·(1 − 1e-4). Count consecutive bad "
        "losses, and cut when the count is *more than* patience; then restart the count.",
    )
)

register(
    Exercise(
        "convergence.pl_factor",
        "L is 8-smooth and satisfies the PL inequality with μ = 1/32. By what factor does gradient descent at η = 1/M "
        "guarantee that L − L* shrinks per step?",
        NumberAnswer(1 - 1 / 256, rtol=1e-9),
        hint="The descent lemma at η = 1/M lowers L by ‖g‖²/(2M); PL says ‖g‖² ≥ 2μ(L − L*).",
    )
)

register(
    Exercise(
        "convergence.c_threshold",
        "SGD with η_k = c/k, c = 1.5, on a strongly convex problem whose smallest Hessian eigenvalue is μ = 0.2: the mean "
        "squared error along the slowest direction eventually falls like k^(−p). What is p?",
        NumberAnswer(0.6, rtol=1e-9),
        hint="The recursion u_{k+1} ≈ (1 − 2η_k μ) u_k + η_k² σ² has a 1/k solution only when 2cμ > 1; otherwise the "
        "product of the factors 1 − 2cμ/j decides.",
    )
)
