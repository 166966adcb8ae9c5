"""Exercises of the chapter "Normalization" (``book/normalization.ipynb``)."""

from __future__ import annotations

import numpy as np

from nbcode.exercises.core import ChoiceAnswer, Exercise, FunctionAnswer, NumberAnswer, register
from nbcode.norm import batch_norm_backward_stepwise, rms_norm


def _reference_bn_backward(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float) -> np.ndarray:
    return batch_norm_backward_stepwise(dy, x, gamma, eps)


_rng = np.random.default_rng(7)
_CASES = [
    (_rng.normal(size=(4, 2)), _rng.normal(3.0, 2.0, size=(4, 2)), np.array([1.0, 2.0]), 1e-5),
    (_rng.normal(size=(8, 3)), _rng.normal(size=(8, 3)), np.array([0.5, 1.0, 3.0]), 1e-3),
    (np.ones((5, 1)), _rng.normal(size=(5, 1)), np.array([2.0]), 1e-5),
    (_rng.normal(size=(2, 2)), np.array([[0.0, 1.0], [4.0, 1.0]]), np.array([1.0, 1.0]), 1e-2),
]

register(
    Exercise(
        "norm.kappa_standardized",
        "Two features with sample correlation ρ = 0.8 are standardized and an intercept column added: what is κ of the least-squares Hessian?",
        NumberAnswer(9.0, rtol=1e-6),
        hint="After standardizing, H = diag(1, [[1, ρ], [ρ, 1]]); the eigenvalues of the 2×2 block are 1 ± ρ.",
    )
)

register(
    Exercise(
        "norm.running_var",
        "running_var = 1, momentum = 0.1, one channel sees the batch [0, 2, 4] in training mode: what is the new running_var?",
        NumberAnswer(1.3, rtol=1e-6),
        hint="PyTorch mixes in the *unbiased* batch variance, Σ(x − µ)²/(B − 1), with weight momentum.",
    )
)

register(
    Exercise(
        "norm.bn_backward",
        "Write bn_backward(dy, x, gamma, eps) returning ∂L/∂x of training-mode batch norm for (B, C) input.",
        FunctionAnswer(_reference_bn_backward, _CASES),
        hint="x_hat = (x − µ)/√(σ² + ε) per column; dx = γ/(B√(σ² + ε)) · (B·dy − Σdy − x_hat·Σ(dy·x_hat)).",
    )
)

register(
    Exercise(
        "norm.batch_independent",
        "Which layer gives a different output for the same example in training mode depending on the other examples in its batch?",
        ChoiceAnswer("batch", ["batch", "layer", "group", "instance"]),
        hint="Which one averages over the N axis?",
    )
)


def _reference_rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return rms_norm(x, x.shape[-1], weight, eps=eps)[0]


_RMS_CASES = [
    (_rng.normal(size=(3, 4)), np.ones(4), 1e-6),
    (_rng.normal(2.0, 3.0, size=(5, 6)), _rng.uniform(0.5, 2.0, size=6), 1e-5),
    (np.array([[3.0, 4.0], [0.0, 0.0]]), np.array([1.0, 2.0]), 0.1),
]

register(
    Exercise(
        "norm.rms_norm",
        "Write rms_norm(x, weight, eps): RMSNorm over the last axis of x, as torch.nn.RMSNorm(x.shape[-1], eps=eps).",
        FunctionAnswer(_reference_rms_norm, _RMS_CASES),
        hint="rms = √(mean(x², last axis) + ε), kept as a column; return weight · x / rms. No mean is subtracted.",
    )
)

register(
    Exercise(
        "norm.keras_momentum",
        "A Keras BatchNormalization layer uses momentum=0.99. Which torch.nn.BatchNorm1d momentum gives the same running averages?",
        NumberAnswer(0.01, rtol=1e-9),
        hint="Keras: moving = momentum · moving + (1 − momentum) · batch. PyTorch: running = (1 − m) · running + m · batch.",
    )
)

register(
    Exercise(
        "norm.rescaled_curvature",
        "A loss satisfies L(aW) = L(W) for every a > 0. By what factor is the Hessian's quadratic form along W's own "
        "directions multiplied when W is replaced by 2W?",
        NumberAnswer(0.25, rtol=1e-9),
        hint="Differentiate L(aW) = L(W) twice with respect to W: a² ∇²L(aW) = ∇²L(W).",
    )
)
