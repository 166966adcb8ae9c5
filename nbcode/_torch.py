"""Calling a torch model without changing it: the one helper behind every function of nbcode that
promises to leave a model as it found it.

A forward pass can change a model in three ways: a normalization layer in training mode updates its
running statistics (and ``num_batches_tracked``) in place, dropout draws from the global random
number generator, and a backward pass writes ``.grad``. :func:`stateless` returns a function that
evaluates the model at any parameters through :func:`torch.func.functional_call` with none of
these side effects:

* every buffer is passed as a copy, so nothing the forward pass writes reaches the model;
* a normalization layer (``BatchNorm*``, ``InstanceNorm*`` with running statistics) in training
  mode gets ``None`` for its running statistics: it normalizes with the batch statistics, exactly
  as in training, and tracks nothing. (Updating a copy would do for one call, but not under
  :func:`torch.func.vmap`, where the update of an unbatched buffer with batched statistics
  fails.) In eval mode it uses the running statistics, as usual;
* the global random state is saved, set to the state captured when the function was made, and
  restored after each call: dropout draws the *same* masks at every call, so the loss is a
  deterministic function of the parameters (what a Hessian or a loss slice needs), and the
  caller's random stream does not move;
* the parameters are whatever the caller passes; the train/eval mode and ``requires_grad`` flags
  are never touched.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _NormBase

__all__ = ["call_buffers", "stateless", "fixed_rng", "check_fit", "one_row_error"]

_RUNNING = ("running_mean", "running_var", "num_batches_tracked")


def call_buffers(model: nn.Module) -> dict[str, torch.Tensor | None]:
    """The buffers to pass to ``functional_call``: copies, and ``None`` for the running statistics
    of normalization layers in training mode (batch statistics, nothing tracked).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    >>> sorted(k for k, b in call_buffers(net).items() if b is None)
    ['1.num_batches_tracked', '1.running_mean', '1.running_var']
    >>> sorted(k for k, b in call_buffers(net.eval()).items() if b is None)
    []
    """
    out: dict[str, torch.Tensor | None] = {}
    for prefix, module in model.named_modules():
        batch_stats = isinstance(module, _NormBase) and module.training and module.track_running_stats
        for name, buf in module.named_buffers(recurse=False):
            key = f"{prefix}.{name}" if prefix else name
            if buf is None:
                continue
            out[key] = None if batch_stats and name in _RUNNING else buf.detach().clone()
    return out


class fixed_rng:
    """Context manager: run with the global torch (CPU) random state set to ``state``, and put the
    caller's state back afterwards (``state=None``: the current state, so the block's draws are
    simply undone).

    Examples
    --------
    >>> before = torch.get_rng_state()
    >>> with fixed_rng():
    ...     _ = torch.rand(3)
    >>> torch.equal(torch.get_rng_state(), before)
    True
    """

    def __init__(self, state: torch.Tensor | None = None) -> None:
        self.state = state

    def __enter__(self) -> None:
        self._saved = torch.get_rng_state()
        if self.state is not None:
            torch.set_rng_state(self.state)

    def __exit__(self, *exc: Any) -> None:
        torch.set_rng_state(self._saved)


def stateless(model: nn.Module) -> Callable[[Mapping[str, torch.Tensor], Any], Any]:
    """``call(params, X)``: the model's output on ``X`` with the parameters ``params`` (a dict like
    ``dict(model.named_parameters())``), without side effects (see the module docstring).

    The buffers and the random state are captured now; every call sees the same ones. Works under
    :func:`torch.func.grad`, :func:`~torch.func.vjp` and :func:`~torch.func.vmap` (with
    ``randomness='same'`` when the model draws random numbers).

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Dropout(0.5)).double()
    >>> X = torch.randn(4, 2, dtype=torch.float64)
    >>> call = stateless(net)
    >>> rng = torch.get_rng_state()
    >>> a, b = call(dict(net.named_parameters()), X), call(dict(net.named_parameters()), X)
    >>> torch.equal(a, b), int(net[1].num_batches_tracked), torch.equal(torch.get_rng_state(), rng)
    (True, 0, True)
    """
    buffers = call_buffers(model)
    state = torch.get_rng_state()

    def call(params: Mapping[str, torch.Tensor], X: Any) -> Any:
        tensors: dict[str, Any] = {**params, **buffers}
        with fixed_rng(state):
            return functional_call(model, tensors, (X,), strict=False)

    return call


def check_fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None = None,
              loss_fn: Callable[..., Any] | None = None, *, x_name: str = "X", y_name: str = "y") -> None:
    """Refuse data that does not fit ``model`` (and ``loss_fn``), before any computation, with an
    error that names the argument instead of torch's message from deep inside a layer.

    Checks, in order: ``X`` has the dtype of the model's floating parameters (no silent float32
    against float64); the model runs on the first two rows (in eval mode, without gradients, the
    mode of every module restored: nothing changes); integer labels lie in ``0 .. K-1`` for a
    model with ``K`` outputs; float targets have the output's shape (torch's MSE would broadcast
    ``(n, 1)`` against ``(n, K)`` with only a warning; a loss that warns of a target size other than
    the input's is refused too); ``loss_fn`` gives a scalar.

    >>> import torch
    >>> net = torch.nn.Linear(3, 2).double()
    >>> check_fit(net, torch.zeros(4, 5, dtype=torch.float64))
    Traceback (most recent call last):
        ...
    ValueError: Invalid X: the model cannot take it (mat1 and mat2 shapes cannot be multiplied (2x5 and 3x2))
    >>> check_fit(net, torch.zeros(4, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 1]))
    Traceback (most recent call last):
        ...
    ValueError: Invalid y: labels 0 .. 2 for a model with 2 outputs (need 0 <= y < 2)
    """
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if X.is_floating_point() and dtypes and X.dtype not in dtypes:
        want = " or ".join(sorted(str(d) for d in dtypes))
        raise TypeError(f"Invalid {x_name}: dtype {X.dtype} (the model's parameters are {want}; "
                        f"convert one of them, e.g. {x_name}.to({next(iter(dtypes))}))")
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            try:
                out = model(X[:2])
            except (RuntimeError, IndexError, TypeError, ValueError) as e:
                raise ValueError(f"Invalid {x_name}: the model cannot take it ({str(e).splitlines()[0]})") from None
            if y is None or not isinstance(out, torch.Tensor):
                return
            if not y.is_floating_point() and not y.is_complex() and out.dim() == 2 and y.dim() == 1:
                K = out.shape[1]
                lo, hi = int(y.min()), int(y.max())
                if lo < 0 or hi >= K:
                    raise ValueError(f"Invalid {y_name}: labels {lo} .. {hi} for a model with {K} outputs "
                                     f"(need 0 <= {y_name} < {K})")
            elif y.is_floating_point() and y.dim() == out.dim() and tuple(y.shape[1:]) != tuple(out.shape[1:]):
                raise ValueError(f"Invalid shape of {y_name}: {tuple(y.shape)} for model outputs of shape "
                                 f"{tuple(out.shape[1:])} per example (need ({y.shape[0]}, "
                                 f"{', '.join(map(str, out.shape[1:]))}))")
            if loss_fn is not None:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        loss = loss_fn(out, y[:2])
                    except (RuntimeError, IndexError, TypeError, ValueError) as e:
                        raise ValueError(f"Invalid {y_name}: the loss cannot take it with the model's output "
                                         f"({str(e).splitlines()[0]})") from None
                for w in caught:  # torch's losses broadcast a target of another shape, with only a warning
                    if "target size" in str(w.message):
                        raise ValueError(f"Invalid {y_name}: shape {tuple(y.shape)} for model outputs of shape "
                                         f"{(y.shape[0], *out.shape[1:])} (the loss would broadcast one against "
                                         f"the other: {str(w.message).split('. This')[0]})")
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                    shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
                    raise TypeError(f"Invalid loss_fn: it returned {shape} (need a scalar tensor: "
                                    "reduction='mean' or 'sum')")
    finally:
        for m, training in modes:
            m.training = training


def one_row_error(model: nn.Module, X: torch.Tensor, *, training: bool = True) -> str | None:
    """torch's message when ``model`` cannot run on one row of ``X`` (BatchNorm in training mode
    over a single value per channel; BatchNorm2d over the pixels of one image can), else ``None``.
    Found by calling the model on ``X[:1]`` through :func:`stateless`, without gradients, in
    training mode (``training=False``: in the modes its modules have now); nothing changes.

    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).double()
    >>> one_row_error(net, torch.zeros(5, 3, dtype=torch.float64))[:48]
    'Expected more than 1 value per channel when trai'
    >>> one_row_error(net.eval(), torch.zeros(5, 3, dtype=torch.float64), training=False) is None
    True
    """
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return None
    modes = [(m, m.training) for m in model.modules()]
    try:
        if training:
            model.train()
        with torch.no_grad():
            stateless(model)(dict(model.named_parameters()), X[:1])
    except ValueError as e:
        if "more than 1 value per channel" in str(e):
            return str(e).splitlines()[0]
        raise
    finally:
        for m, mode in modes:
            m.training = mode
    return None
