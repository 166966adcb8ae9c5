"""Exercises of the chapter "Initialization and how variance propagates through depth"
(``book/initialization.ipynb``)."""

from __future__ import annotations

import math

from nbcode.exercises.core import Exercise, FunctionAnswer, NumberAnswer, register


def _kaiming_uniform_bound(fan: int, gain: float) -> float:
    return gain * math.sqrt(3.0 / fan)


register(
    Exercise(
        "init.conv_he_std",
        "Std of kaiming_normal for the weight of Conv2d(16, 48, kernel_size=5), mode='fan_out', nonlinearity='relu'.",
        NumberAnswer(math.sqrt(2.0 / (48 * 5 * 5)), rtol=1e-3),
        hint="The weight has shape (out, in, kh, kw); with mode='fan_out' the fan is the number of outputs each input "
        "feeds, out_channels × kh × kw. The std is gain/√fan with gain √2 for ReLU.",
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
        "init.kaiming_uniform_bound",
        "Write bound(fan, gain): the half-width b of He's uniform initialization U(-b, b) (kaiming_uniform_).",
        FunctionAnswer(_kaiming_uniform_bound, [(64, 2.0**0.5), (288, 1.0), (10, 5.0 / 3), (1, 1.0)]),
        hint="Which variance does a uniform law on [-b, b] have? Set it equal to the variance of He's rule, gain²/fan.",
    )
)

register(
    Exercise(
        "init.isometry_depth",
        "Orthogonal linear network, weights scaled by 1.05: the first depth L at which every singular value of J exceeds 2.",
        NumberAnswer(15, rtol=0.0, atol=0.01),
        hint="Every layer multiplies every singular value by exactly 1.05, so all of them equal 1.05^L; "
        "find the smallest integer L with 1.05^L > 2.",
    )
)

register(
    Exercise(
        "init.leaky_gain",
        "Derive the gain of a leaky ReLU with negative slope 0.3 from the forward variance condition.",
        NumberAnswer(math.sqrt(2.0 / (1.0 + 0.3**2)), rtol=1e-4),
        hint="For a symmetric z, E[φ(z)²] = (1 + a²)/2 · Var(z); the gain is 1/√((1 + a²)/2).",
    )
)

register(
    Exercise(
        "init.fan_out_forward",
        "ReLU MLP 32 → 128 → 48 → 96 → 8, He's rule with fan_out: Var(z⁴)/Var(z¹)?",
        NumberAnswer(16.0, rtol=1e-6),
        hint="With Var(W^l) = 2/n_l each forward factor after the first layer is n_{l−1}·Var(W^l)·½ = n_{l−1}/n_l; "
        "the product telescopes.",
    )
)
