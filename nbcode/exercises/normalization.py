"""Exercises of the chapter "Normalization" (``book/normalization.ipynb``)."""

from __future__ import annotations

import numpy as np

from nbcode.exercises.core import ChoiceAnswer, Exercise, FunctionAnswer, NumberAnswer, _as_number, register
import math
from typing import Any

from nbcode.norm import group_norm, layer_norm, layer_norm_backward


def _reference_ln_backward(dy: np.ndarray, x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    _, cache = layer_norm(x, x.shape[-1], weight, np.zeros_like(weight), eps=eps)
    return layer_norm_backward(dy, cache)[0]


_rng = np.random.default_rng(7)
_CASES = [
    (_rng.normal(size=(4, 3)), _rng.normal(3.0, 2.0, size=(4, 3)), np.array([1.0, 2.0, 0.5]), 1e-5),
    (_rng.normal(size=(2, 5)), _rng.normal(size=(2, 5)), _rng.uniform(0.5, 3.0, size=5), 1e-3),
    (np.ones((3, 4)), _rng.normal(size=(3, 4)), np.array([2.0, 1.0, 1.0, 0.5]), 1e-5),
    (_rng.normal(size=(2, 2)), np.array([[0.0, 1.0], [4.0, 1.0]]), np.array([1.0, 3.0]), 1e-2),
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
        "norm.ln_backward",
        "Write ln_backward(dy, x, weight, eps) returning ∂L/∂x of torch.nn.LayerNorm(D, eps=eps) on a (B, D) input.",
        FunctionAnswer(_reference_ln_backward, _CASES),
        hint="The statistics are now per row, and the weight varies along the normalized axis: it cannot be taken "
        "out of the sums over that axis as BatchNorm's γ was. Check against torch autograd.",
    )
)

register(
    Exercise(
        "norm.bn_one_image",
        "BatchNorm2d in training mode gets a batch of one image: which other normalization computes the same output?",
        ChoiceAnswer("instance", ["batch", "layer", "group", "instance"]),
        hint="With N = 1, which entries share one mean and one variance? Compare with the table of the chapter.",
    )
)


def _reference_group_norm(x: np.ndarray, num_groups: int, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    return group_norm(x, num_groups, weight, bias, eps=eps)[0]


_GN_CASES = [
    (_rng.normal(size=(2, 4, 3, 3)), 2, np.ones(4), np.zeros(4), 1e-5),
    (_rng.normal(2.0, 3.0, size=(3, 6, 2, 2)), 3, _rng.uniform(0.5, 2.0, size=6), _rng.normal(size=6), 1e-5),
    (_rng.normal(size=(2, 6, 5)), 2, _rng.uniform(0.5, 2.0, size=6), _rng.normal(size=6), 1e-3),
    (_rng.normal(size=(1, 4, 2, 2)), 1, np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 1.0, 0.0, -1.0]), 0.1),
]

register(
    Exercise(
        "norm.group_norm",
        "Write group_norm(x, num_groups, weight, bias, eps) for x of shape (N, C, *), as torch.nn.GroupNorm.",
        FunctionAnswer(_reference_group_norm, _GN_CASES),
        hint="Each (example, group) pair shares one mean and one biased variance, over its C/G channels and all their "
        "positions; weight and bias are per channel and come after. Check against torch.nn.GroupNorm.",
    )
)

def _judge_keras_port(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, (str, bytes, bytearray)):
        return False, "expected a pair (momentum, eps) of numbers, not a string"
    try:
        pair = list(answer)
    except Exception:
        return False, "expected a pair (momentum, eps) of numbers"
    if len(pair) != 2:
        return False, "expected a pair (momentum, eps) of numbers"
    (momentum, problem_m), (eps, problem_e) = _as_number(pair[0]), _as_number(pair[1])
    if momentum is None or eps is None:
        return False, f"expected a pair (momentum, eps) of numbers: {problem_m or problem_e}"
    ok_m, ok_e = math.isclose(momentum, 0.01, rel_tol=1e-9), math.isclose(eps, 1e-3, rel_tol=1e-9)
    if ok_m and ok_e:
        return True, ""
    return False, "the momentum is not right" if not ok_m else "the momentum is right, the eps is not"


register(
    Exercise(
        "norm.keras_port",
        "Keras's default BatchNormalization() is ported to torch.nn.BatchNorm1d: which (momentum, eps) keep its outputs "
        "and its running mean?",
        _judge_keras_port,
        hint="Keras's momentum is the weight of the old value, PyTorch's that of the new batch; the two libraries' "
        "default ε differ too (see their documentation).",
    )
)

register(
    Exercise(
        "norm.wd_effective_lr",
        "Scale-invariant weights under SGD with weight decay λ reach an equilibrium norm: by what factor does the "
        "effective learning rate η/‖W‖² there change when λ is multiplied by 4?",
        NumberAnswer(2.0, rtol=1e-3),
        hint="Write ‖W‖² after one step with decay, using that the gradient is orthogonal to W and scales like 1/‖W‖; "
        "at equilibrium what the gradient adds equals what the decay removes (first order in ηλ).",
    )
)
