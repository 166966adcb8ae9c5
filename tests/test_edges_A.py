"""Bad input to nbcode.norm is refused at the door, with one message format per kind of check
(issue #16, group A); valid input of other dtypes gives the float64 result."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch

import nbcode.norm as N

ONE = np.ones(3)
X = np.arange(12.0).reshape(4, 3) % 5


def _bn(x: Any) -> Any:
    return N.batch_norm(x, ONE, 0 * ONE, 0 * ONE, ONE, training=True)


# each layer refuses a NaN or an infinity in its input (it would only come out as a NaN output)
LAYERS: list[tuple[str, Callable[[Any], Any]]] = [
    ("batch_norm", _bn),
    ("BatchNorm", lambda x: N.BatchNorm(3)(x)),
    ("layer_norm", lambda x: N.layer_norm(x, 3)),
    ("rms_norm", lambda x: N.rms_norm(x, 3)),
    ("group_norm", lambda x: N.group_norm(x, 3)),
    ("instance_norm", lambda x: N.instance_norm(np.asarray(x)[None])),  # N = 1, C = 4, L = 3
    ("normalize", lambda x: N.normalize(x, (0,), 1e-5)),
    ("spectral_norm", lambda x: N.spectral_norm(x, np.ones(4), ONE)),
    ("weight_norm", lambda x: N.weight_norm(x, np.ones((4, 1)))),
]


@pytest.mark.parametrize("name,layer", LAYERS, ids=[n for n, _ in LAYERS])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_nonfinite_input_is_refused(name: str, layer: Callable[[Any], Any], bad: float) -> None:
    x = X.copy()
    x[1, 2] = bad
    arg = "v" if name == "weight_norm" else "weight" if name == "spectral_norm" else "input"
    with pytest.raises(ValueError, match=rf"Invalid {arg}: it contains NaN or infinity"):
        layer(x)


@pytest.mark.parametrize("name,layer", LAYERS, ids=[n for n, _ in LAYERS])
def test_other_dtypes_give_the_float64_result(name: str, layer: Callable[[Any], Any]) -> None:
    def leaves(r: Any) -> list[np.ndarray]:
        if isinstance(r, np.ndarray):
            return [r]
        return [a for x in r for a in leaves(x)] if isinstance(r, tuple) else []

    want = leaves(layer(X))
    for x in (X.astype(np.int64), X.astype(np.float16), X.astype(np.float32), X.tolist()):
        got = leaves(layer(x))
        assert all(g.dtype == np.float64 and np.array_equal(g, w) for g, w in zip(got, want))


def test_parameters_and_upstream_gradients_are_checked() -> None:
    with pytest.raises(ValueError, match=r"Invalid weight: it contains NaN or infinity"):
        N.batch_norm(X, [1.0, np.nan, 1.0], 0 * ONE, 0 * ONE, ONE, training=True)
    with pytest.raises(ValueError, match=r"Invalid running_var: it contains NaN or infinity"):
        N.batch_norm(X, ONE, 0 * ONE, 0 * ONE, [1.0, np.inf, 1.0], training=False)
    with pytest.raises(ValueError, match=r"Invalid bias: it contains NaN or infinity"):
        N.layer_norm(X, 3, ONE, [0.0, np.nan, 0.0])
    with pytest.raises(ValueError, match=r"Invalid running_var: smallest entry -1 \(need variances >= 0\)"):
        N.batch_norm(X, ONE, 0 * ONE, 0 * ONE, [1.0, -1.0, 1.0], training=False)
    cache = _bn(X).cache
    with pytest.raises(TypeError, match=r"Invalid dout: 'abc' \(need real numbers, got dtype <U3\)"):
        N.batch_norm_backward("abc", cache)
    with pytest.raises(ValueError, match=r"Invalid dout: it contains NaN or infinity"):
        N.batch_norm_backward(np.full((4, 3), np.nan), cache)
    with pytest.raises(ValueError, match=r"Invalid dout shape: expected \(4, 3\), got \(4, 2\)"):
        N.batch_norm_backward_stepwise(np.ones((4, 2)), X, ONE)
    with pytest.raises(ValueError, match=r"Invalid d_xhat shape: expected \(4, 3\), got \(4, 3, 1\)"):
        N.normalize_backward(np.ones((4, 3, 1)), N.normalize(X, (0,), 1e-5)[3])


@pytest.mark.parametrize("fn,cache,cls,producer", [
    (N.normalize_backward, None, "NormCache", "normalize"),
    (N.batch_norm_backward, 3, "BatchNormCache", "batch_norm"),
    (N.layer_norm_backward, "x", "AffineCache", "layer_norm"),
    (N.group_norm_backward, (1, 2), "AffineCache", "group_norm or instance_norm"),
    (N.rms_norm_backward, None, "RMSCache", "rms_norm"),
])
def test_a_backward_pass_needs_the_cache_of_its_forward_pass(fn: Callable[..., Any], cache: Any, cls: str,
                                                               producer: str) -> None:
    with pytest.raises(TypeError, match=rf"Invalid cache: .* \(need the {cls} returned by {producer}\)"):
        fn(np.ones((4, 3)), cache)


def test_normalize_axes() -> None:
    with pytest.raises(TypeError, match=r"Invalid axes: None \(need an int or a tuple of ints\)"):
        N.normalize(X, None, 1e-5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid axes entry: 2 \(need -2 <= axes entry <= 1\)"):
        N.normalize(X, (2,), 1e-5)
    with pytest.raises(TypeError, match=r"Invalid axes entry: 0.5 \(need an integer\)"):
        N.normalize(X, (0.5,), 1e-5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid axes: \(0, -2\) \(need distinct axes of a 2-D input, at least one\)"):
        N.normalize(X, (0, -2), 1e-5)
    with pytest.raises(ValueError, match=r"Invalid eps: -1.0 \(need eps >= 0\)"):
        N.normalize(X, (0,), -1.0)
    for a, b in zip(N.normalize(X, 0, 1e-5)[:3], N.normalize(X, (0,), 1e-5)[:3]):  # an int is one axis
        assert np.array_equal(a, b)


def test_batchnorm_layer_names_a_channel_mismatch() -> None:
    """It used to blame its own weight ("Invalid weight shape: expected (2,), got (3,)")."""
    with pytest.raises(ValueError, match=r"Invalid input: expected 3 channels \(num_features\), got input of size \(4, 2\)"):
        N.BatchNorm(3)(np.ones((4, 2)))


def test_norm_axes_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match=r"Invalid shape: \(2, 3, 4\) \(need at least 4 entries\)"):
        N.norm_axes("layer", (2, 3, 4))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid shape: \(2, 3, 4, 4, 1\) \(need 4 sizes, \(N, C, H, W\)\)"):
        N.norm_axes("layer", (2, 3, 4, 4, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid shape: \(2, 3, 4, -1\) \(need integers >= 1\)"):
        N.norm_axes("layer", (2, 3, 4, -1))
    with pytest.raises(TypeError, match=r"Invalid num_groups: 2.0 \(need an integer\)"):
        N.norm_axes("layer", (2, 4, 1, 1), 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid num_groups: -1 \(need num_groups >= 1\)"):
        N.norm_axes("group", (2, 4, 1, 1), -1)
    with pytest.raises(ValueError, match=r"Invalid normalization kind: 3 \(use one of"):
        N.norm_axes(3, (2, 4, 1, 1))  # type: ignore[arg-type]


def test_reparametrization_messages_name_v() -> None:
    with pytest.raises(ValueError, match=r"Invalid g shape: expected \(3, 1, 1\), got \(3, 1\) \(the shape of the norms of v"):
        N.weight_norm(np.ones((3, 2, 1)), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"Invalid dw shape: expected \(3, 2, 1\), got \(3, 2\) \(the shape of v\)"):
        N.weight_norm_backward(np.ones((3, 2)), np.ones((3, 2, 1)), np.ones((3, 1, 1)))
    with pytest.raises(TypeError, match=r"Invalid u: 'abc' \(need real numbers, got dtype <U3\)"):
        N.spectral_power_iteration(np.ones((3, 2)), "abc", np.ones(2))
    with pytest.raises(ValueError, match=r"Invalid v: it contains NaN or infinity"):
        N.spectral_norm(np.ones((3, 2)), np.ones(3), [1.0, np.nan])


def test_spectral_norm_flattens_a_convolution_weight_like_torch() -> None:
    """A 3-D weight is flattened to (out, -1), as torch's spectral_norm does for Conv1d."""
    rng = np.random.default_rng(0)
    W = rng.normal(size=(4, 2, 3))
    u, v = rng.normal(size=4), rng.normal(size=6)
    Wn, _, _ = N.spectral_norm(W, u, v, 50)
    sigma = np.linalg.svd(W.reshape(4, -1), compute_uv=False)[0]
    np.testing.assert_allclose(Wn, W / sigma, rtol=1e-10)
    assert Wn.shape == W.shape


def test_regression_data_checks() -> None:
    with pytest.raises(TypeError, match=r"Invalid scale: True \(need a real number\)"):
        N.two_feature_regression(10, scale=True)
    with pytest.raises(ValueError, match=r"Invalid shape of mean: \(1,\) \(need \(2,\)\)"):
        N.two_feature_regression(10, mean=(0.0,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid mean: it contains NaN or infinity"):
        N.two_feature_regression(10, mean=(np.nan, 0.0))
    with pytest.raises(ValueError, match=r"Invalid correlation: 1.0 \(need -1 < rho < 1\)"):
        N.two_feature_regression(10, rho=1.0)
    with pytest.raises(ValueError, match=r"Invalid noise: -1.0 \(need noise >= 0\)"):
        N.two_feature_regression(10, noise=-1.0)
    with pytest.raises(ValueError, match=r"Invalid seed: -1 \(need seed >= 0\)"):
        N.two_feature_regression(10, seed=-1)
    with pytest.raises(TypeError, match=r"Invalid seed: 2.5"):
        N.two_feature_regression(10, seed=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid correlation: -1.0 \(need -1 < rho < 1\)"):
        N.predicted_kappa_standardized(-1.0)
    a, b = N.two_feature_regression(10, seed=3), N.two_feature_regression(10, seed=np.random.default_rng(3))
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    c = N.two_feature_regression(10, scale=np.float32(2.0), mean=[np.float32(1.0), 0.0], rho=np.float64(0.5),  # type: ignore[arg-type]
                                 seed=np.int64(3))  # type: ignore[arg-type]
    d = N.two_feature_regression(10, scale=2.0, mean=(1.0, 0.0), rho=0.5, seed=3)
    assert np.array_equal(c.X, d.X) and np.array_equal(c.y, d.y)


def test_least_squares_checks() -> None:
    with pytest.raises(ValueError, match=r"Invalid shape of X: \(3,\) \(need 2 dimensions\)"):
        N.standardize(np.arange(3.0))
    with pytest.raises(ValueError, match=r"Invalid X: a column is constant and cannot be standardized"):
        N.standardize(np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"Invalid intercept: 'no' \(need True or False\)"):
        N.design(np.ones((3, 2)), intercept="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid A: it contains NaN or infinity"):
        N.ls_hessian([[1.0, np.nan]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid shape of y: \(2,\) \(need \(3,\)\)"):
        N.ls_gradient(np.ones((3, 2)), np.ones(2))
    A, y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 0.0, 1.0])
    with pytest.raises(TypeError, match=r"Invalid learning rate: '0.1' \(need a real number\)"):
        N.steps_to_converge(A, y, "0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid learning rate: 0 \(need learning rate > 0\)"):
        N.steps_to_converge(A, y, 0)
    with pytest.raises(ValueError, match=r"Invalid tolerance: nan \(need a finite number\)"):
        N.steps_to_converge(A, y, 0.3, tol=float("nan"))
    with pytest.raises(ValueError, match=r"Invalid max_steps: -1 \(need max_steps >= 0\)"):
        N.steps_to_converge(A, y, 0.3, max_steps=-1)
    with pytest.raises(TypeError, match=r"Invalid max_steps: True \(need an integer, not a bool\)"):
        N.steps_to_converge(A, y, 0.3, max_steps=True)
    # a float16 target used to fail inside lstsq ("array type float16 is unsupported in linalg")
    assert N.steps_to_converge(A, y.astype(np.float16), 0.3, 1e-3) == N.steps_to_converge(A, y, 0.3, 1e-3)


def test_ls_gradient_keeps_a_copy() -> None:
    """Editing A or y after building the gradient does not change it."""
    A, y = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), np.array([1.0, 0.0, 1.0])
    grad = N.ls_gradient(A, y)
    w = np.array([0.5, -1.0])
    before = grad(w)
    A += 1.0
    y[:] = 7.0
    assert np.array_equal(grad(w), before)
    At = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    wt = torch.tensor(w, requires_grad=True)
    (0.5 * ((At @ wt - torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)) ** 2).mean()).backward()
    assert wt.grad is not None
    np.testing.assert_allclose(before, wt.grad.numpy(), rtol=1e-14)
