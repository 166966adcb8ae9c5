"""nbcode.init's NumPy initializers against torch.nn.init: fans and gains exactly, distributions
statistically (tolerances from the sampling distribution of the statistic), errors by message."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from nbcode.init import (
    calculate_correct_fan,
    calculate_fan_in_and_fan_out,
    calculate_gain,
    init_std,
    kaiming_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_uniform,
    orthogonal,
    sparse,
    xavier_normal,
    xavier_uniform,
)
from nbcode.init.fans import NONLINEARITIES

SHAPES = [(10, 64), (64, 10), (3, 7), (16, 3, 5, 5), (8, 4, 3), (4, 2, 3, 3, 3), (1, 1)]


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape: tuple[int, ...]) -> None:
    t = torch.empty(shape)
    assert calculate_fan_in_and_fan_out(shape) == nn.init._calculate_fan_in_and_fan_out(t)
    for mode in ("fan_in", "fan_out"):
        assert calculate_correct_fan(shape, mode) == nn.init._calculate_correct_fan(t, mode)


def test_conv_fans_by_hand() -> None:
    # Conv2d(3 -> 16, 5x5): each output sums 3*5*5 = 75 inputs; each input feeds 16*5*5 = 400 outputs
    assert calculate_fan_in_and_fan_out((16, 3, 5, 5)) == (75, 400)
    assert calculate_fan_in_and_fan_out(tuple(nn.Conv2d(3, 16, 5).weight.shape)) == (75, 400)


@pytest.mark.parametrize("name", NONLINEARITIES)
def test_gains_match_torch_exactly(name: str) -> None:
    assert calculate_gain(name) == nn.init.calculate_gain(name)


@pytest.mark.parametrize("param", [None, 0, 0.2, 1, 3.0])
def test_leaky_relu_gain_matches_torch(param: float | None) -> None:
    assert calculate_gain("leaky_relu", param) == nn.init.calculate_gain("leaky_relu", param)
    slope = 0.01 if param is None else param
    assert calculate_gain("leaky_relu", param) == pytest.approx(math.sqrt(2 / (1 + slope**2)), rel=1e-15)


def test_errors_are_refused_where_torch_refuses_them() -> None:
    """Where torch raises a ValueError, so do we, in the package's format (naming the argument)."""
    for fn in (calculate_fan_in_and_fan_out,):
        for shape in [(5,), ()]:
            with pytest.raises(ValueError, match=r"Invalid shape: \(.*\) \(need 2 or more dimensions: fan in and fan out"):
                fn(shape)
            with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"):
                nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    rng = np.random.default_rng(0)
    for init in (xavier_uniform, xavier_normal, lecun_normal, lecun_uniform):
        with pytest.raises(ValueError, match=r"Invalid shape: \(5,\) \(need 2 or more dimensions"):
            init((5,), rng=rng)
        with pytest.raises(ValueError, match=r"Invalid gain: -1.0"):
            init((5, 5), -1.0, rng=rng)
    with pytest.raises(ValueError, match=r"Invalid shape: \(5,\)"):
        kaiming_normal((5,), rng=rng)
    with pytest.raises(ValueError, match=r"Invalid nonlinearity: 'swish' \(use one of \['linear', "):
        calculate_gain("swish")
    with pytest.raises(ValueError, match="Unsupported nonlinearity swish"):
        nn.init.calculate_gain("swish")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid nonlinearity: 'swish'"):
        kaiming_uniform((5, 5), nonlinearity="swish", rng=rng)
    with pytest.raises(TypeError, match=r"Invalid param: True \(need a real number\)"):
        calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match=r"Invalid param: nan \(need a finite number\)"):
        calculate_gain("leaky_relu", math.nan)
    with pytest.raises(ValueError, match=r"Invalid mode: 'fan_avg' \(use one of \['fan_in', 'fan_out'\]\)"):
        kaiming_normal((5, 5), mode="fan_avg", rng=rng)
    with pytest.raises(ValueError, match=r"Invalid mode: 'fan_avg'"):
        kaiming_normal((0, 5), mode="fan_avg", rng=rng)  # checked before the zero-size shortcut
    with pytest.raises(TypeError, match=r"Invalid a: None \(need a real number\)"):
        kaiming_normal((5, 5), a=None, rng=rng)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid a: nan"):
        kaiming_uniform((5, 5), a=math.nan, rng=rng)
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]"):
        nn.init.kaiming_normal_(torch.empty(5, 5), mode="fan_avg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid shape: \(5,\) \(need 2 or more dimensions\)"):
        orthogonal((5,), rng=rng)
    with pytest.raises(ValueError, match="Invalid gain: -2.0"):
        orthogonal((5, 5), -2.0, rng=rng)
    with pytest.raises(ValueError, match=r"Invalid shape: \(2, 3, 4\) \(need 2 dimensions\)"):
        sparse((2, 3, 4), 0.5, rng=rng)
    with pytest.raises(ValueError, match=r"Invalid sparsity: 1.5 \(need 0 <= sparsity <= 1\)"):
        sparse((3, 4), 1.5, rng=rng)
    with pytest.raises(TypeError, match=r"Invalid sparsity: True \(need a real number\)"):
        sparse((3, 4), True, rng=rng)
    with pytest.raises(ValueError, match=r"Invalid std: -0.1 \(need std >= 0\)"):
        sparse((3, 4), 0.5, -0.1, rng=rng)
    with pytest.raises(ValueError, match="Invalid shape"):
        xavier_normal((3, -1), rng=rng)
    with pytest.raises(TypeError, match=r"Invalid rng: 0 \(need a numpy.random.Generator\)"):
        xavier_normal((3, 3), rng=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid scheme: 'he' \(use one of \['lecun', 'xavier', 'kaiming'\]\)"):
        init_std((3, 3), "he")
    with pytest.raises(ValueError, match=r"Invalid gain: nan"):
        xavier_normal((0, 3), math.nan, rng=rng)  # checked before the zero-size shortcut


def test_zero_element_shapes_are_a_no_op() -> None:
    assert xavier_uniform((0, 5), rng=np.random.default_rng(0)).shape == (0, 5)
    assert kaiming_normal((5, 0), rng=np.random.default_rng(0)).shape == (5, 0)


def _torch_sample(init: str, shape: tuple[int, ...], **kw: object) -> np.ndarray:
    g = torch.Generator().manual_seed(1)
    t = torch.empty(shape, dtype=torch.float64)
    getattr(nn.init, init + "_")(t, generator=g, **kw)
    return t.numpy()


def _var_se(sigma2: float, n: int, uniform: bool) -> float:
    """Std of the sample variance of n i.i.d. draws: sqrt((mu4 - sigma^4)/n), mu4 = 3 sigma^4
    (normal) or 9/5 sigma^4 (uniform)."""
    mu4 = (9 / 5 if uniform else 3.0) * sigma2**2
    return math.sqrt((mu4 - sigma2**2) / n)


CASES = [
    ("xavier_normal", xavier_normal, (300, 200), {"gain": 1.0}, lambda i, o: 2 / (i + o), False),
    ("xavier_normal", xavier_normal, (16, 8, 3, 3), {"gain": 5 / 3}, lambda i, o: (5 / 3) ** 2 * 2 / (i + o), False),
    ("xavier_uniform", xavier_uniform, (300, 200), {"gain": 1.0}, lambda i, o: 2 / (i + o), True),
    ("xavier_uniform", xavier_uniform, (64, 32, 3, 3), {"gain": math.sqrt(2)}, lambda i, o: 4 / (i + o), True),
    ("kaiming_normal", kaiming_normal, (256, 400), {"nonlinearity": "relu"}, lambda i, o: 2 / i, False),
    ("kaiming_normal", kaiming_normal, (256, 400), {"nonlinearity": "relu", "mode": "fan_out"}, lambda i, o: 2 / o, False),
    ("kaiming_normal", kaiming_normal, (200, 300), {"a": 0.2}, lambda i, o: 2 / (1 + 0.04) / i, False),
    ("kaiming_normal", kaiming_normal, (64, 16, 5, 5), {"nonlinearity": "tanh", "mode": "fan_out"}, lambda i, o: (25 / 9) / o, False),
    ("kaiming_uniform", kaiming_uniform, (256, 400), {"nonlinearity": "relu"}, lambda i, o: 2 / i, True),
    ("kaiming_uniform", kaiming_uniform, (64, 16, 5, 5), {"a": math.sqrt(5)}, lambda i, o: 1 / (3 * i), True),
]


@pytest.mark.parametrize("name,ours,shape,kw,var_fn,uniform", CASES, ids=[f"{c[0]}-{c[2]}-{sorted(c[3].items())}" for c in CASES])
def test_distributions_match_torch(name: str, ours: object, shape: tuple[int, ...], kw: dict, var_fn: object, uniform: bool) -> None:
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    sigma2 = var_fn(fan_in, fan_out)  # type: ignore[operator]
    w = ours(shape, **kw, rng=np.random.default_rng(0))  # type: ignore[operator]
    t = _torch_sample(name, shape, **kw)
    n = w.size
    se = _var_se(sigma2, n, uniform)
    # both samples have the closed-form variance, within 4.5 standard errors of a sample variance
    assert abs(np.mean(w**2) - sigma2) < 4.5 * se
    assert abs(np.mean(t**2) - sigma2) < 4.5 * se
    assert abs(w.mean()) < 4.5 * math.sqrt(sigma2 / n)
    # and the same law as torch's sample (two-sample Kolmogorov-Smirnov)
    assert stats.ks_2samp(w.ravel(), t.ravel()).pvalue > 1e-3
    if uniform:
        bound = math.sqrt(3 * sigma2)
        assert np.abs(w).max() <= bound and np.abs(t).max() <= bound
        # the max of n uniforms misses the bound by more than 1e-3*b with probability (1-5e-4)^n
        assert np.abs(w).max() > bound * (1 - 1e-3)


def test_glorot_bound_has_the_square_root_over_the_six() -> None:
    w = xavier_uniform((30, 70), rng=np.random.default_rng(0))
    assert np.abs(w).max() <= math.sqrt(6 / 100)  # = 0.245, not 6/sqrt(100) = 0.6
    assert np.abs(w).max() > 0.24


def test_lecun_is_kaiming_linear() -> None:
    shape = (50, 80)
    a = lecun_normal(shape, rng=np.random.default_rng(3))
    b = kaiming_normal(shape, nonlinearity="linear", rng=np.random.default_rng(3))
    np.testing.assert_allclose(a, b, rtol=1e-15)
    u = lecun_uniform(shape, rng=np.random.default_rng(3))
    assert np.abs(u).max() <= math.sqrt(3 / 80)
    assert abs(np.mean(u**2) - 1 / 80) < 4.5 * _var_se(1 / 80, u.size, True)


@pytest.mark.parametrize("shape,gain", [((40, 40), 1.0), ((20, 50), 2.0), ((50, 20), 0.5), ((8, 4, 3, 3), 1.0), ((64, 8, 3, 3), 1.3)])
def test_orthogonal(shape: tuple[int, ...], gain: float) -> None:
    q = orthogonal(shape, gain, rng=np.random.default_rng(0)).reshape(shape[0], -1)
    t = _torch_sample("orthogonal", shape, gain=gain).reshape(shape[0], -1)
    rows, cols = q.shape
    for m in (q, t):
        gram = m @ m.T if rows <= cols else m.T @ m
        np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_is_haar_distributed() -> None:
    """With the sign fix, Q = QR(G).Q is Haar: E[Q_00] = 0. LAPACK's raw Q is biased (it has
    R_00 of a fixed sign). 4000 3x3 draws: Var(Q_00) = 1/3, standard error 0.009."""
    rng = np.random.default_rng(0)
    q00 = np.array([orthogonal((3, 3), rng=rng)[0, 0] for _ in range(4000)])
    raw = np.array([np.linalg.qr(rng.normal(size=(3, 3)))[0][0, 0] for _ in range(4000)])
    se = math.sqrt(1 / 3 / 4000)
    assert abs(q00.mean()) < 4.5 * se
    assert abs(raw.mean()) > 20 * se  # the test above can fail
    assert abs(np.mean(q00**2) - 1 / 3) < 0.03


@pytest.mark.parametrize("shape,sparsity", [((20, 30), 0.1), ((7, 5), 0.5), ((10, 4), 0.0)])
def test_sparse(shape: tuple[int, int], sparsity: float) -> None:
    w = sparse(shape, sparsity, std=0.5, rng=np.random.default_rng(0))
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    t = nn.init.sparse_(torch.empty(shape, dtype=torch.float64), sparsity, std=0.5, generator=g).numpy()
    np.testing.assert_array_equal((w == 0).sum(axis=0), (t == 0).sum(axis=0))
    assert ((w == 0).sum(axis=0) == math.ceil(sparsity * shape[0])).all()
    nz = w[w != 0]
    assert abs(np.mean(nz**2) - 0.25) < 4.5 * _var_se(0.25, nz.size, False)
