"""L-BFGS: a quasi-Newton step from the last few (step, gradient change) pairs, by the two-loop recursion."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from nbcode import _validate as v
from nbcode.optim._base import Array, Optimizer, grads_and_params, hyper, check_params, bad_state

__all__ = ["LBFGSState", "lbfgs", "two_loop", "minimize_lbfgs", "LBFGSResult"]


class LBFGSState(NamedTuple):
    """Field names follow ``torch.optim.LBFGS``'s state (``old_dirs`` are the :math:`y_i`, ``old_stps`` the :math:`s_i`)."""

    n_iter: int
    d: Array | None
    t: float
    old_dirs: tuple[Array, ...]
    old_stps: tuple[Array, ...]
    ro: tuple[float, ...]
    H_diag: float
    prev_flat_grad: Array | None


def two_loop(g: Array, old_stps: tuple[Array, ...], old_dirs: tuple[Array, ...], ro: tuple[float, ...], H_diag: float) -> Array:
    r"""The L-BFGS direction :math:`-H_k g` by the two-loop recursion (Nocedal & Wright, Alg. 7.4).

    With pairs :math:`s_i = w_{i+1} - w_i`, :math:`y_i = g_{i+1} - g_i`, :math:`\rho_i = 1/y_i^\top s_i`:

    .. math::

        q = -g;\ \text{for } i = m-1..0:\ \alpha_i = \rho_i s_i^\top q,\ q \leftarrow q - \alpha_i y_i;\quad
        r = \gamma q;\ \text{for } i = 0..m-1:\ \beta_i = \rho_i y_i^\top r,\ r \leftarrow r + (\alpha_i - \beta_i) s_i

    with :math:`\gamma = s^\top y / y^\top y` of the newest pair. It applies the BFGS inverse-Hessian
    approximation built from the pairs to :math:`-g` in :math:`O(md)` time without forming it.

    Examples
    --------
    >>> H = np.diag([1.0, 4.0]); s = (np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    >>> y = tuple(H @ si for si in s); ro = tuple(1 / float(yi @ si) for yi, si in zip(y, s))
    >>> two_loop(np.array([2.0, 8.0]), s, y, ro, 0.25).tolist()   # = -H^{-1} g
    [-2.0, -2.0]
    """
    gv = v.vector(g, "g")
    stps = _pairs(old_stps, "old_stps")
    dirs = _pairs(old_dirs, "old_dirs")
    if not isinstance(ro, (tuple, list)):
        raise TypeError(f"Invalid ro: {v.show(ro)} (need a sequence of numbers)")
    rho = tuple(v.real(r, f"ro[{i}]") for i, r in enumerate(ro))
    if not len(stps) == len(dirs) == len(rho):
        raise ValueError(f"Invalid old_dirs and ro: {len(stps)} steps, {len(dirs)} gradient changes and {len(rho)} values of ro "
                         "(need one of each per pair)")
    for name, pairs in (("old_stps", stps), ("old_dirs", dirs)):
        for i, x in enumerate(pairs):
            if x.shape != gv.shape:
                raise ValueError(f"Invalid shape of g: {gv.shape} does not match {name}[{i}]: {x.shape} "
                                 "(need one length for the gradient and every pair)")
    return _two_loop(gv, stps, dirs, rho, v.real(H_diag, "H_diag"))


def _pairs(value: Any, name: str) -> tuple[Array, ...]:
    """A sequence of vectors (the history of :func:`two_loop`), as float64 copies."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"Invalid {name}: {v.show(value)} (need a sequence of arrays)")
    return tuple(v.vector(x, f"{name}[{i}]") for i, x in enumerate(value))


def _two_loop(g: Array, old_stps: tuple[Array, ...], old_dirs: tuple[Array, ...], ro: tuple[float, ...], H_diag: float) -> Array:
    """:func:`two_loop` on checked arguments (every step of :func:`lbfgs` calls it)."""
    q = -g
    al = [0.0] * len(old_stps)
    for i in range(len(old_stps) - 1, -1, -1):
        al[i] = float(old_stps[i] @ q) * ro[i]
        q = q - al[i] * old_dirs[i]
    r = q * H_diag
    for i in range(len(old_stps)):
        be_i = float(old_dirs[i] @ r) * ro[i]
        r = r + (al[i] - be_i) * old_stps[i]
    return r


def _direction(g: Array, state: LBFGSState, lr: float, history_size: int) -> LBFGSState:
    """Advance the history with the new gradient and compute the new direction and default step."""
    n_iter = state.n_iter + 1
    if n_iter == 1:
        dirs: tuple[Array, ...] = ()
        stps: tuple[Array, ...] = ()
        ro: tuple[float, ...] = ()
        H_diag = 1.0
        d = -g
    else:
        assert state.d is not None and state.prev_flat_grad is not None
        dirs, stps, ro, H_diag = state.old_dirs, state.old_stps, state.ro, state.H_diag
        y = g - state.prev_flat_grad
        s = state.d * state.t
        ys = float(y @ s)
        if ys > 1e-10:  # curvature condition; otherwise keep the old pairs
            if len(dirs) == history_size:
                dirs, stps, ro = dirs[1:], stps[1:], ro[1:]
            dirs, stps, ro = dirs + (y,), stps + (s,), ro + (1.0 / ys,)
            H_diag = ys / float(y @ y)
        d = _two_loop(g, stps, dirs, ro, H_diag)
    t = min(1.0, 1.0 / float(np.abs(g).sum())) * lr if n_iter == 1 else lr
    return LBFGSState(n_iter, d, t, dirs, stps, ro, H_diag, g.copy())


def lbfgs(lr: float = 1.0, history_size: int = 100, tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9) -> Optimizer:
    r"""L-BFGS with a fixed step, one iteration per update: ``torch.optim.LBFGS(max_iter=1, line_search_fn=None)``.

    .. math:: w_{k+1} = w_k + t_k d_k,\qquad d_k = -H_k g_k \ (\text{two-loop}),\qquad
              t_0 = \eta \min(1, 1/\|g_0\|_1),\ t_k = \eta

    Update pairs with :math:`y^\top s \le 10^{-10}` are skipped (they would make :math:`H_k`
    indefinite). No update is made when :math:`\max|g| \le` ``tolerance_grad`` or when
    :math:`d` is not a descent direction (:math:`g^\top d > -` ``tolerance_change``).
    For a full minimization with a line search see :func:`minimize_lbfgs`.

    References
    ----------
    Nocedal & Wright, *Numerical Optimization*, 2006, §7.2; Liu & Nocedal, 1989.

    Examples
    --------
    >>> opt = lbfgs(lr=1.0)
    >>> w = np.array([3.0]); s = opt.init(w)        # L = w^2 / 2: gradient w
    >>> u, s = opt.update(w, s, w); w = w + u; w.tolist()
    [2.0]
    >>> u, s = opt.update(w, s, w); (w + u).tolist()  # the secant finds the curvature
    [0.0]
    """
    lr = hyper(lr, "learning rate", "lr", low=0)
    history_size = v.count(history_size, "history_size", low=1)
    tolerance_grad = hyper(tolerance_grad, "tolerance_grad value", "tolerance_grad", low=0)
    tolerance_change = hyper(tolerance_change, "tolerance_change value", "tolerance_change", low=0)

    def init(params: Array) -> LBFGSState:
        check_params(params)
        return LBFGSState(0, None, lr, (), (), (), 1.0, None)

    def update(grads: Array, state: LBFGSState, params: Array) -> tuple[Array, LBFGSState]:
        if type(state) is not LBFGSState:  # one test per step; the message names the argument
            bad_state(state, LBFGSState)
        grads, _ = grads_and_params(grads, params)
        g = grads.ravel()
        if float(np.abs(g).max()) <= tolerance_grad:
            return np.zeros_like(grads), state
        new = _direction(g, state, lr, int(history_size))
        assert new.d is not None
        if float(g @ new.d) > -tolerance_change:
            return np.zeros_like(grads), new
        return (new.t * new.d).reshape(grads.shape), new

    return Optimizer(init, update, lr=lambda step: lr)


class LBFGSResult(NamedTuple):
    x: Array
    fun: float
    nit: int
    path: Array


def minimize_lbfgs(
    fun: Callable[[Array], float],
    grad: Callable[[Array], Array],
    x0: Any,
    *,
    lr: float = 1.0,
    history_size: int = 10,
    max_iter: int = 500,
    tolerance_grad: float = 1e-7,
    line_search_fn: str | None = "backtracking",
) -> LBFGSResult:
    r"""Minimize ``fun`` by L-BFGS, with a backtracking (Armijo) line search or a fixed step.

    The line search halves :math:`t` until :math:`L(w + t d) \le L(w) + 10^{-4}\, t\, g^\top d`
    (sufficient decrease). ``line_search_fn=None`` is the fixed-step rule of :func:`lbfgs`.

    Examples
    --------
    >>> A = np.diag([1.0, 10.0, 100.0])
    >>> res = minimize_lbfgs(lambda w: 0.5 * w @ A @ w, lambda w: A @ w, [1.0, 1.0, 1.0])
    >>> bool(np.allclose(res.x, 0.0, atol=1e-6)), res.nit < 20
    (True, True)
    """
    if line_search_fn not in (None, "backtracking"):
        raise ValueError(f"Invalid line_search_fn: {line_search_fn!r} (use None or 'backtracking')")
    v.function(fun, "fun")
    v.function(grad, "grad")
    lr = hyper(lr, "learning rate", "lr", low=0)
    history_size = v.count(history_size, "history_size", low=1)
    max_iter = v.count(max_iter, "max_iter")
    tolerance_grad = hyper(tolerance_grad, "tolerance_grad value", "tolerance_grad", low=0)
    w = v.array(x0, "x0")
    if w.ndim > 1:
        raise ValueError(f"Invalid shape of x0: {w.shape} (need a vector)")
    w = w.ravel()
    state = LBFGSState(0, None, lr, (), (), (), 1.0, None)
    path = [w.copy()]
    f0 = fun(w)
    if np.ndim(f0) != 0:
        raise ValueError(f"Invalid fun: it returned {v.show(f0)} at x0 (need a real number, the loss)")
    f = v.real(np.asarray(f0).item() if isinstance(f0, np.ndarray) else f0, "fun(x0)")  # a non-finite start has no descent
    nit = 0
    for nit in range(1, max_iter + 1):
        g = np.asarray(grad(w), dtype=float).ravel()
        if g.shape != w.shape:  # a tuple comparison per iteration
            raise ValueError(f"Invalid grad: it returned {g.size} values at iteration {nit} (need one per entry of x0, {w.size})")
        if float(np.abs(g).max()) <= tolerance_grad:
            nit -= 1
            break
        state = _direction(g, state, lr, history_size)
        assert state.d is not None
        gtd = float(g @ state.d)
        if gtd >= 0:  # not a descent direction: restart from the gradient
            state = _direction(g, LBFGSState(0, None, lr, (), (), (), 1.0, None), lr, history_size)
            assert state.d is not None
            gtd = float(g @ state.d)
        t, d = state.t, state.d
        assert d is not None
        if line_search_fn == "backtracking":
            for _ in range(50):
                f_new = float(fun(w + t * d))
                if np.isfinite(f_new) and f_new <= f + 1e-4 * t * gtd:
                    break
                t *= 0.5
            state = state._replace(t=t)
        w = w + t * d
        f = float(fun(w))
        path.append(w.copy())
    return LBFGSResult(w, f, nit, np.array(path))
