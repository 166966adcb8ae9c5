"""Exercises of the chapter "Initialization and how variance propagates through depth"
(``book/initialization.ipynb``)."""

from __future__ import annotations

import math

from nbcode.exercises.core import ChoiceAnswer, Exercise, FunctionAnswer, NumberAnswer, register


def _xavier_uniform_bound(fan_in: int, fan_out: int, gain: float) -> float:
    return gain * math.sqrt(6.0 / (fan_in + fan_out))


register(
    Exercise(
        "init.conv_he_std",
        "Std of kaiming_normal for a Conv2d weight of shape (64, 32, 3, 3), mode='fan_in', nonlinearity='relu'.",
        NumberAnswer(math.sqrt(2.0 / (32 * 3 * 3)), rtol=1e-3),
        hint="The fan-in of a convolution is in_channels × kh × kw; the std is gain/√fan_in with gain √2 for ReLU.",
    )
)

register(
    Exercise(
        "init.relu_xavier_depth",
        "ReLU net, Var(W) = 1/n, Var(x) = 1: the first layer l with Var(z^l) ≤ 1e-6.",
        NumberAnswer(21, rtol=0.0, atol=0.01),
        hint="z¹ = W¹x has Var(x) = 1 (no ReLU before the first layer); each later layer multiplies by n·Var(W)·½ = ½, "
        "so Var(z^l) = 2^−(l−1). Solve 2^−(l−1) ≤ 10⁻⁶ for the smallest integer l.",
    )
)

register(
    Exercise(
        "init.xavier_uniform_bound",
        "Write bound(fan_in, fan_out, gain): the half-width b of Glorot's uniform initialization U(-b, b).",
        FunctionAnswer(_xavier_uniform_bound, [(64, 32, 1.0), (300, 100, 5.0 / 3), (10, 10, 2.0**0.5), (1, 1, 1.0)]),
        hint="A uniform law on [-b, b] has variance b²/3; set it equal to gain²·2/(fan_in + fan_out). The 6 is under the square root.",
    )
)

register(
    Exercise(
        "init.isometry",
        "Which deep network can have all Jacobian singular values close to 1 at initialization?",
        ChoiceAnswer("tanh + orthogonal", ["linear + gaussian", "tanh + orthogonal", "relu + orthogonal", "relu + gaussian"]),
        hint="A Gaussian product spreads the singular values even without a nonlinearity; a ReLU zeroes half of the coordinates at every layer.",
    )
)

register(
    Exercise(
        "init.leaky_gain",
        "Derive the gain of a leaky ReLU with negative slope 0.2 from the forward variance condition.",
        NumberAnswer(math.sqrt(2.0 / (1.0 + 0.2**2)), rtol=1e-4),
        hint="For a symmetric z, E[φ(z)²] = (1 + a²)/2 · Var(z); the gain is 1/√((1 + a²)/2).",
    )
)

register(
    Exercise(
        "init.fan_in_backward",
        "ReLU MLP 64 → 256 → 32 → 128 → 10, He's rule with fan_in: Var(δ¹)/Var(δ⁴)?",
        NumberAnswer(10.0 / 256.0, rtol=1e-6),
        hint="Each backward factor is n_l·Var(W^l)·½ = n_l/n_{l−1}; the product telescopes to n_4/n_1.",
    )
)
