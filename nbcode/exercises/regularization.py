"""Exercises of the chapter "Regularization" (``book/regularization.ipynb``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nbcode.exercises.core import ChoiceAnswer, Exercise, FunctionAnswer, NumberAnswer, register
from nbcode.regularize import ridge, soft_threshold


def _soft_threshold(z: Any, t: float) -> np.ndarray:
    return soft_threshold(z, t)


def _ridge(X: Any, y: Any, alpha: float) -> np.ndarray:
    return ridge(X, y, alpha)


register(
    Exercise(
        "regularization.l2_shrink",
        "H = diag(3, 1), w* = (2, 2), α = 1: what is the first component of the L2-penalised optimum?",
        NumberAnswer(1.5, rtol=1e-6),
        hint="Along an eigenvector the component of w* is multiplied by λ/(λ + α).",
    )
)

register(
    Exercise(
        "regularization.dropout_scale",
        "torch.nn.Dropout(p=0.2) in training mode: what does a kept activation equal to 1.0 become?",
        NumberAnswer(1.25, rtol=1e-6),
        hint="PyTorch's p is the drop probability; kept units are divided by the keep probability 1 − p.",
    )
)

register(
    Exercise(
        "regularization.noise_alpha",
        "Gaussian input noise of standard deviation σ = 0.5 on L(w) = 1/(2n)‖y − Xw‖²: the α of the equivalent penalty (α/2)‖w‖²?",
        NumberAnswer(0.25, rtol=1e-6),
        hint="E‖εw‖² = nσ²‖w‖²; divide by 2n and compare with (α/2)‖w‖².",
    )
)

register(
    Exercise(
        "regularization.soft_threshold",
        "Write soft_threshold(z, t): the minimiser of ½(w − z)² + t|w|, element-wise on an array z.",
        FunctionAnswer(
            _soft_threshold,
            [(np.array([3.0, 0.5, -2.0]), 1.0), (np.array([-0.1, 0.0, 0.1]), 0.05), (np.linspace(-2, 2, 9), 0.7)],
        ),
        hint="Shrink |z| by t, stop at zero, keep the sign: np.sign(z) * np.maximum(np.abs(z) - t, 0).",
    )
)

register(
    Exercise(
        "regularization.ridge",
        "Write ridge(X, y, alpha): the minimiser of 1/(2n)‖y − Xw‖² + (α/2)‖w‖² (no intercept).",
        FunctionAnswer(
            _ridge,
            [
                (np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), np.array([1.0, 2.0, 0.5]), 0.1),
                (np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, -1.0]), 1.0),
            ],
        ),
        hint="Set the gradient X^T(Xw − y)/n + αw to zero and solve the linear system.",
    )
)

register(
    Exercise(
        "regularization.clip_direction",
        "Which clipping can change the direction of the gradient: 'value' or 'norm'?",
        ChoiceAnswer("value", ["value", "norm"]),
        hint="One rescales the whole vector by a positive number; the other clips each component separately.",
    )
)


def _dropout_keep_ridge(X: np.ndarray, y: np.ndarray, p: float) -> np.ndarray:
    """The minimizer of the expected loss of least squares under input dropout in the keep convention
    (kept inputs not rescaled): :math:`((1-p)H + p\\operatorname{diag}H)\\,w = X^\\top y/n`."""
    n = X.shape[0]
    H = X.T @ X / n
    return np.linalg.solve((1.0 - p) * H + p * np.diag(np.diag(H)), X.T @ y / n)


register(
    Exercise(
        "regularization.dropout_keep_ridge",
        "Write dropout_keep_ridge(X, y, p): the minimiser of the expected loss E_m 1/(2n)‖y − (m ⊙ X)w‖² when every "
        "input is kept with probability 1 − p and the kept ones are not rescaled (no intercept).",
        FunctionAnswer(
            _dropout_keep_ridge,
            [
                (np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), np.array([1.0, 2.0, 0.5]), 0.2),
                (np.array([[1.0, 2.0], [3.0, 4.0], [0.5, -1.0]]), np.array([1.0, -1.0, 2.0]), 0.5),
            ],
        ),
        hint="E[x̃ᵀw] = (1−p) xᵀw and Var[x̃ᵀw] = p(1−p) Σ_j x_j² w_j²: the expected loss is "
        "1/(2n)‖y − (1−p)Xw‖² + ½ p(1−p) Σ_j H_jj w_j²; set its gradient to zero.",
    )
)

register(
    Exercise(
        "regularization.map_alpha",
        "n = 200 examples, L(w) the mean loss with likelihood ∝ exp(−nL(w)), prior N(0, σ_w² I) with σ_w = 0.1: "
        "which α of the penalty (α/2)‖w‖² gives the MAP estimate?",
        NumberAnswer(0.5, rtol=1e-6),
        hint="−log p(w) = ‖w‖²/(2σ_w²) + const; divide nL(w) − log p(w) by n.",
    )
)
