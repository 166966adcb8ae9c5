r"""How the variance of activations and of gradients travels through a deep MLP at initialization.

A bias-free MLP of depth :math:`L` computes :math:`z^l = W^l h^{l-1}`, :math:`h^l = \phi(z^l)`,
:math:`h^0 = x`, and back-propagates :math:`\delta^{l-1} = \phi'(z^{l-1}) \odot (W^l)^\top \delta^l`
with :math:`\delta^l = \partial L/\partial z^l`. If the weights are i.i.d. with mean 0 and
variance :math:`\sigma_l^2`, independent of the signal, then (the first exactly, in expectation
over the weights)

.. math::

    \operatorname{Var}(z^l) = n_{l-1}\,\sigma_l^2\,\mathbb E[\phi(z^{l-1})^2], \qquad
    \operatorname{Var}(\delta^{l-1}) = n_l\,\sigma_l^2\,\mathbb E[\phi'(z^{l-1})^2]\,\operatorname{Var}(\delta^l),

the second under the usual extra assumption that the backward weights are independent of the
forward signal (accurate for wide layers; for linear and ReLU layers the tests find no bias even at
width 48). For a linear
:math:`\phi` these are the product formulas :math:`\operatorname{Var}(z^l) = n_{l-1}\sigma_l^2
\operatorname{Var}(z^{l-1})`; for ReLU :math:`\mathbb E[\phi(z)^2] = \tfrac12\operatorname{Var}(z)`
and :math:`\mathbb E[\phi'(z)^2] = \tfrac12` because :math:`z` is symmetric; for smooth
:math:`\phi` the expectations over :math:`z \sim \mathcal N(0, q)` are evaluated by a quadrature
sized to both the variance and the activation (:func:`gaussian_expectation`; the mean-field
recursion of Poole et al. 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from nbcode import _validate
from nbcode.init.fans import calculate_gain
from nbcode.init._threads import single_blas_thread
from nbcode.init.initializers import orthogonal

__all__ = ["ACTIVATIONS", "Activation", "activation", "VarianceProfile", "simulate_variance", "predict_variance", "weight_std",
           "gaussian_expectation", "simulate_widths", "predict_widths", "SELU_ALPHA", "SELU_SCALE"]

_LEAKY = 0.01


@dataclass(frozen=True)
class Activation:
    """A nonlinearity with its derivative and, where they exist, closed-form Gaussian moments.

    ``m2(q)`` is :math:`\\mathbb E[\\phi(z)^2]` and ``d2(q)`` is :math:`\\mathbb E[\\phi'(z)^2]`
    for :math:`z \\sim \\mathcal N(0, q)`; ``None`` means "use quadrature".
    """

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray], np.ndarray]
    m2: Callable[[np.ndarray], np.ndarray] | None
    d2: Callable[[np.ndarray], np.ndarray] | None
    gain_name: str


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


#: SELU's constants (Klambauer et al. 2017), as in ``torch.nn.SELU``.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _selu(z: np.ndarray) -> np.ndarray:
    return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))


def _selu_prime(z: np.ndarray) -> np.ndarray:
    return SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0.0)))


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation("linear", lambda z: z, np.ones_like, lambda q: q, lambda q: np.ones_like(q), "linear"),
    "tanh": Activation("tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2, None, None, "tanh"),
    "sigmoid": Activation("sigmoid", _sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z)), None, None, "sigmoid"),
    "relu": Activation(
        "relu", lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float), lambda q: 0.5 * q, lambda q: 0.5 * np.ones_like(q), "relu"
    ),
    "leaky_relu": Activation(
        "leaky_relu",
        lambda z: np.where(z > 0, z, _LEAKY * z),
        lambda z: np.where(z > 0, 1.0, _LEAKY),
        lambda q: 0.5 * (1 + _LEAKY**2) * q,
        lambda q: 0.5 * (1 + _LEAKY**2) * np.ones_like(q),
        "leaky_relu",
    ),
    "selu": Activation("selu", _selu, _selu_prime, None, None, "selu"),
}


def activation(name: str) -> Activation:
    """The :class:`Activation` called ``name`` (``linear``, ``tanh``, ``sigmoid``, ``relu``, ``leaky_relu``, ``selu``).

    >>> activation("gelu")
    Traceback (most recent call last):
        ...
    ValueError: Invalid nonlinearity name: 'gelu' (use one of ['linear', 'tanh', 'sigmoid', 'relu', 'leaky_relu', 'selu'])
    """
    return _activation(name, "nonlinearity name")


def _activation(name: str, arg: str) -> Activation:
    """:func:`activation`, with ``arg`` naming the argument in the error message (``'act'``)."""
    return ACTIVATIONS[_validate.choice(name, arg, list(ACTIVATIONS))]


#: Weight schemes of :func:`weight_std` and :func:`simulate_variance`.
SCHEMES = ("lecun", "xavier", "kaiming", "orthogonal")


def _check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Invalid rng: {_validate.show(rng)} (need a numpy.random.Generator)")
    return rng


def weight_std(init: str, width: int, act: str, scale: float = 1.0) -> float:
    r"""Std of a square ``width`` × ``width`` weight under ``init``, times ``scale``.

    ``'lecun'`` and ``'xavier'`` (equal for square layers): :math:`1/\sqrt n`; ``'kaiming'``:
    :math:`g_\phi/\sqrt n` with the gain of ``act`` (leaky slope 0.01); ``'orthogonal'``:
    :math:`g_\phi/\sqrt n` per entry (the matrix is :math:`g_\phi` times an orthogonal one).

    Examples
    --------
    >>> round(weight_std("kaiming", 100, "relu"), 6)
    0.141421
    """
    _validate.choice(init, "init", SCHEMES)
    width = _validate.count(width, "width", low=1)
    phi = _activation(act, "act")
    scale = _validate.real(scale, "scale", low=0)
    if init in ("lecun", "xavier"):
        g = 1.0
    else:
        g = float(calculate_gain(phi.gain_name, _LEAKY if act == "leaky_relu" else None))
    return scale * g / math.sqrt(width)


@dataclass
class VarianceProfile:
    """Per-layer second moments, index ``l - 1`` for layer ``l = 1..L``.

    ``forward[l-1]`` is :math:`\\operatorname{Var}(z^l)`, ``backward[l-1]`` is
    :math:`\\operatorname{Var}(\\delta^l)` (the seed :math:`\\delta^L` has variance 1), and
    ``hidden`` holds the post-activations of the last batch (for histograms) when requested.
    """

    forward: np.ndarray
    backward: np.ndarray
    hidden: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        """Float64 copies of the profiles (the caller's stay theirs), of the same length."""
        self.forward = _validate.array(self.forward, "forward", ndim=1, finite=False)
        self.backward = _validate.array(self.backward, "backward", shape=(len(self.forward),), finite=False)
        if self.hidden is not None:
            if not isinstance(self.hidden, (list, tuple)):
                raise TypeError(f"Invalid hidden: {_validate.show(self.hidden)} (need None or a list of arrays)")
            self.hidden = [_validate.array(h, f"hidden[{i}]", finite=False) for i, h in enumerate(self.hidden)]


def _check(depth: int, width: int, batch: int) -> None:
    _validate.count(depth, "depth", low=1)
    _validate.count(width, "width", low=1)
    _validate.count(batch, "batch size", low=1)


@single_blas_thread
def simulate_variance(
    depth: int,
    width: int,
    *,
    init: str = "kaiming",
    act: str = "relu",
    scale: float = 1.0,
    batch: int = 128,
    rng: np.random.Generator,
    keep_hidden: bool = False,
) -> VarianceProfile:
    r"""Measure per-layer :math:`\operatorname{Var}(z^l)` and :math:`\operatorname{Var}(\delta^l)` in
    one random network.

    Inputs :math:`x \sim \mathcal N(0, I_n)` (a batch of ``batch`` rows); :math:`\delta^L \sim
    \mathcal N(0, I_n)`, independent of the forward pass (as the theory assumes); weights drawn
    with :func:`weight_std` (Gaussian) or :func:`~nbcode.init.initializers.orthogonal`.
    A "variance" here is the mean square over the batch and the units, an unbiased estimate of
    the variance because every :math:`z^l` and :math:`\delta^l` has mean zero over random weights.
    A signal that overflows float64 (a huge ``scale`` over many layers) is refused (``ValueError``).

    Examples
    --------
    >>> p = simulate_variance(10, 64, init="kaiming", act="relu", rng=np.random.default_rng(0))
    >>> p.forward.shape, bool(1 < p.forward[-1] < 4)  # Var(z^l) = 2 at every layer, in expectation
    ((10,), True)
    """
    _check(depth, width, batch)
    phi = _activation(act, "act")
    std = weight_std(init, width, act, scale)
    rng = _check_rng(rng)
    keep_hidden = _validate.flag(keep_hidden, "keep_hidden")
    if init == "orthogonal":
        weights = [orthogonal((width, width), std * math.sqrt(width), rng=rng) for _ in range(depth)]
    else:
        weights = list(rng.normal(0.0, std, size=(depth, width, width)))
    with np.errstate(over="ignore", invalid="ignore"):   # an overflow is refused below, by name
        h = rng.normal(size=(batch, width))
        zs, fwd, hidden = [], np.empty(depth), []
        for l, w in enumerate(weights):
            z = h @ w.T
            zs.append(z)
            fwd[l] = np.mean(z**2)
            h = phi.f(z)
            if keep_hidden:
                hidden.append(h)
        delta = rng.normal(size=(batch, width))
        bwd = np.empty(depth)
        bwd[-1] = np.mean(delta**2)
        for l in range(depth - 1, 0, -1):
            delta = phi.df(zs[l - 1]) * (delta @ weights[l])
            bwd[l - 1] = np.mean(delta**2)
    for what, vals in (("forward", fwd), ("backward", bwd)):
        bad = ~np.isfinite(vals)
        if bad.any():
            first = int(np.argmax(bad)) if what == "forward" else int(depth - 1 - np.argmax(bad[::-1]))
            raise ValueError(f"Invalid scale: {scale} (the {what} signal overflows float64 at layer {first + 1} "
                             f"of {depth} with init={init!r}, act={act!r}: need a smaller scale or depth)")
    return VarianceProfile(fwd, bwd, hidden if keep_hidden else None)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
#: Beyond this |z| every activation here is constant to machine precision (sigmoid's
#: :math:`1 - \sigma(z) < 10^{-17}` at :math:`z = 40`): panels there need only follow the Gaussian.
_FLAT = 40.0


def _panels(q: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and weights of a composite 16-point Gauss-Legendre rule for :math:`\int f(z)\,
    \mathcal N(z; 0, q)\,dz` on :math:`|z| \le 10\sqrt q` (the Gaussian mass outside is
    :math:`1.5 \cdot 10^{-23}`), with panels no wider than half a standard deviation (for the
    density) and, where the activations still vary (:math:`|z| < 40`), no wider than 1."""
    s = math.sqrt(q)
    R = 10.0 * s
    fine = min(R, _FLAT)
    h = min(1.0, 0.5 * s)
    edges = np.linspace(0.0, fine, max(1, math.ceil(fine / h)) + 1)
    if R > fine:
        edges = np.concatenate([edges, np.linspace(fine, R, max(1, math.ceil((R - fine) / (0.5 * s))) + 1)[1:]])
    edges = np.concatenate([-edges[::-1], edges[1:]])
    mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    z = (mid[:, None] + half[:, None] * _GL_X).ravel()
    w = (half[:, None] * _GL_W).ravel() * np.exp(-0.5 * z * z / q) / (s * math.sqrt(2.0 * math.pi))
    return z, w


def gaussian_expectation(fn: Callable[[np.ndarray], np.ndarray], q: float) -> float:
    r""":math:`\mathbb E[f(z)]` for :math:`z \sim \mathcal N(0, q)`, to about 15 digits for a bounded
    :math:`f` that is smooth on the scale of 1 (tanh, sigmoid, their derivatives) and any
    :math:`q \ge 0`.

    A fixed Gauss-Hermite rule places its nodes at :math:`\sqrt q\, x_i`; once :math:`\sqrt q` is
    large, the region :math:`|z| \lesssim 2` where tanh bends falls between two nodes and the
    estimate of :math:`\mathbb E[\tanh^2 z]` is off by percents. This rule instead integrates in
    :math:`z` with panels sized to both scales: :math:`\sqrt q` (the density) and 1 (the activation).

    Examples
    --------
    >>> round(gaussian_expectation(lambda z: z**2, 3.0), 12)
    3.0
    >>> round(gaussian_expectation(lambda z: np.tanh(z) ** 2, 1e6), 6)   # about 1 - 2/sqrt(2 pi q)
    0.999202
    """
    q = _validate.real(q, "variance", low=0)
    fn = _validate.function(fn, "fn")
    if q == 0.0:
        return float(fn(np.zeros(1))[0])
    z, w = _panels(q)
    return float(w @ fn(z))


def predict_variance(depth: int, width: int, *, init: str = "kaiming", act: str = "relu", scale: float = 1.0, q0: float = 1.0) -> VarianceProfile:
    r"""The theory's per-layer variances (see the module docstring).

    .. math::

        q^1 = n\sigma_w^2 q_0,\quad q^{l} = n\sigma_w^2\,\mathbb E_{z\sim\mathcal N(0,q^{l-1})}[\phi(z)^2],\quad
        v^{l-1} = n\sigma_w^2\,\mathbb E_{z\sim\mathcal N(0,q^{l-1})}[\phi'(z)^2]\,v^l,\ v^L = 1.

    For linear and (leaky) ReLU networks :math:`q^L = (n\sigma_w^2 c)^{L-1} n\sigma_w^2 q_0` with
    :math:`c = 1, \tfrac12, \tfrac{1+a^2}{2}`: the product formula.

    Examples
    --------
    >>> predict_variance(5, 100, init="xavier", act="relu").forward.round(4).tolist()
    [1.0, 0.5, 0.25, 0.125, 0.0625]
    """
    _check(depth, width, 1)
    q0 = _validate.real(q0, "q0", low=0)
    phi = _activation(act, "act")
    s2n = width * weight_std(init, width, act, scale) ** 2
    fwd, bwd = np.empty(depth), np.empty(depth)
    fwd[0] = s2n * q0
    for l in range(1, depth):
        q = fwd[l - 1]
        fwd[l] = s2n * (float(phi.m2(np.asarray(q))) if phi.m2 is not None else gaussian_expectation(lambda z: phi.f(z) ** 2, q))
    bwd[-1] = 1.0
    for l in range(depth - 1, 0, -1):
        q = fwd[l - 1]
        chi = s2n * (float(phi.d2(np.asarray(q))) if phi.d2 is not None else gaussian_expectation(lambda z: phi.df(z) ** 2, q))
        bwd[l - 1] = chi * bwd[l]
    return VarianceProfile(fwd, bwd)


def _check_widths(widths: Sequence[int]) -> list[int]:
    return list(_validate.sizes(widths, "widths", low=1, min_len=2))


def _mode_std(n_in: int, n_out: int, mode: str, act: str) -> float:
    _validate.choice(mode, "mode", ("fan_in", "fan_out"))
    phi = _activation(act, "act")
    gain = float(calculate_gain(phi.gain_name, _LEAKY if act == "leaky_relu" else None))
    return gain / math.sqrt(n_in if mode == "fan_in" else n_out)


def predict_widths(widths: Sequence[int], *, mode: str = "fan_in", act: str = "relu") -> VarianceProfile:
    r"""The variance recursions for a bias-free MLP ``widths[0] -> ... -> widths[-1]`` with He's
    rule in ``mode`` (``'fan_in'``: :math:`\operatorname{Var}(W^l) = g^2/n_{l-1}`; ``'fan_out'``:
    :math:`g^2/n_l`), for a linear or (leaky) ReLU activation.

    With :math:`x` of unit variance, :math:`\operatorname{Var}(z^1) = n_0\operatorname{Var}(W^1)`,
    :math:`\operatorname{Var}(z^l) = n_{l-1}\operatorname{Var}(W^l)\,c_\phi\operatorname{Var}(z^{l-1})`
    and :math:`\operatorname{Var}(\delta^{l-1}) = n_l\operatorname{Var}(W^l)\,c_\phi\operatorname{Var}(\delta^l)`
    from :math:`\operatorname{Var}(\delta^L) = 1`. With ``'fan_in'`` each forward factor is 1 and
    the backward factor of layer :math:`l` is :math:`n_l/n_{l-1}`, whose product over the layers
    telescopes to :math:`n_L/n_1`: the gradient's variance changes by the ratio of two widths, not
    exponentially with depth (He et al. 2015, Sec. 2.2). ``'fan_out'`` is the mirror image.

    Examples
    --------
    >>> p = predict_widths([64, 256, 32, 128, 10], mode="fan_in")
    >>> p.forward.round(6).tolist(), (256 * p.backward).round(6).tolist()   # 256 Var(delta^1) = 256 * 10/256
    ([2.0, 2.0, 2.0, 2.0], [10.0, 80.0, 20.0, 256.0])
    """
    ns = _check_widths(widths)
    _validate.choice(mode, "mode", ("fan_in", "fan_out"))
    phi = _activation(act, "act")
    if phi.m2 is None or phi.d2 is None:
        raise ValueError(f"Invalid act: {act!r} (need 'linear', 'relu' or 'leaky_relu')")
    c = float(phi.d2(np.asarray(1.0)))
    L = len(ns) - 1
    var_w = [_mode_std(ns[l], ns[l + 1], mode, act) ** 2 for l in range(L)]
    fwd, bwd = np.empty(L), np.empty(L)
    fwd[0] = ns[0] * var_w[0]
    for l in range(1, L):
        fwd[l] = ns[l] * var_w[l] * c * fwd[l - 1]
    bwd[-1] = 1.0
    for l in range(L - 1, 0, -1):
        bwd[l - 1] = ns[l + 1] * var_w[l] * c * bwd[l]
    return VarianceProfile(fwd, bwd)


@single_blas_thread
def simulate_widths(
    widths: Sequence[int], *, mode: str = "fan_in", act: str = "relu", batch: int = 256, rng: np.random.Generator
) -> VarianceProfile:
    r"""Measure :math:`\operatorname{Var}(z^l)` and :math:`\operatorname{Var}(\delta^l)` in one random
    bias-free MLP ``widths[0] -> ... -> widths[-1]`` with He's Gaussian rule in ``mode``
    (see :func:`predict_widths`), inputs and :math:`\delta^L` standard normal, as
    :func:`simulate_variance` does for constant width.

    Examples
    --------
    >>> p = simulate_widths([64, 256, 32, 128, 10], rng=np.random.default_rng(0))
    >>> bool(np.allclose(p.forward, 2.0, rtol=0.3))
    True
    """
    ns = _check_widths(widths)
    _validate.count(batch, "batch size", low=1)
    _validate.choice(mode, "mode", ("fan_in", "fan_out"))
    rng = _check_rng(rng)
    phi = _activation(act, "act")
    L = len(ns) - 1
    weights = [rng.normal(0.0, _mode_std(ns[l], ns[l + 1], mode, act), size=(ns[l + 1], ns[l])) for l in range(L)]
    h = rng.normal(size=(batch, ns[0]))
    zs, fwd = [], np.empty(L)
    for l, w in enumerate(weights):
        z = h @ w.T
        zs.append(z)
        fwd[l] = np.mean(z**2)
        h = phi.f(z)
    delta = rng.normal(size=(batch, ns[-1]))
    bwd = np.empty(L)
    bwd[-1] = np.mean(delta**2)
    for l in range(L - 1, 0, -1):
        delta = phi.df(zs[l - 1]) * (delta @ weights[l])
        bwd[l - 1] = np.mean(delta**2)
    return VarianceProfile(fwd, bwd)
