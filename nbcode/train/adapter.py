"""The book's own optimizers on a torch model: flatten the gradients, ``update``, write back.

:class:`NumpyOptimizer` puts any :class:`nbcode.optim.Optimizer` behind the interface of a
``torch.optim.Optimizer`` (``zero_grad()``, ``step()``, ``param_groups``), so that
:func:`nbcode.train.fit` (or any training loop) trains a network with the NumPy code that the
tests check against ``torch.optim``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np
import torch

from nbcode import _validate as v
from nbcode.optim import Optimizer

__all__ = ["NumpyOptimizer"]


def needs_closure(optimizer: Any) -> bool:
    """True when ``optimizer.step`` has a required ``closure`` argument (``torch.optim.LBFGS``): a loop
    that calls ``step()`` after ``backward()`` cannot drive it."""
    import inspect

    try:
        p = inspect.signature(optimizer.step).parameters.get("closure")
    except (TypeError, ValueError, AttributeError):
        return False
    return p is not None and p.default is inspect.Parameter.empty


class _Group(dict[str, Any]):
    """A parameter group whose ``lr`` is read-only: the rate is the nbcode optimizer's schedule,
    baked into its update, so a write (a scheduler, a range test) would be silently ignored."""

    def _refuse(self) -> None:
        raise TypeError("Invalid write to NumpyOptimizer.param_groups[0]['lr']: the rate is set by the nbcode "
                        "optimizer's schedule (give it lr=<a schedule from nbcode.schedules>, e.g. "
                        "adam(lr=cosine_annealing_lr(1e-3, T_max=100))); a written rate would be ignored")

    def __setitem__(self, key: Any, value: Any) -> None:
        if key == "lr":
            self._refuse()
        super().__setitem__(key, value)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key == "lr" and key not in self:
            self._refuse()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        if "lr" in dict(*args, **kwargs):
            self._refuse()
        super().update(*args, **kwargs)

    def __ior__(self, other: Any) -> "_Group":  # type: ignore[misc,override]
        self.update(other)
        return self


class NumpyOptimizer:
    """Step the parameters of a torch model with an nbcode optimizer.

    At every :meth:`step` the gradients of all parameters are flattened into one NumPy vector
    (in ``named_parameters`` order, a missing gradient counting as zero), the optimizer's
    in-place step :meth:`~nbcode.optim.Optimizer.update_` updates a flat copy of the parameters
    and its own state, and the result is written back into the parameters. The state is
    :attr:`state`, a ``NamedTuple`` with torch's field names and the step count.

    ``param_groups[0]["lr"]`` shows the rate of the next step; it is read-only (a write raises
    ``TypeError``): the rate is the nbcode optimizer's own, a number or a schedule of
    :mod:`nbcode.schedules` given to it, so a torch scheduler or :func:`~nbcode.train.lr_range_test`
    cannot drive it.

    Parameters
    ----------
    params : iterable of torch.nn.Parameter
        E.g. ``model.parameters()``; all of one floating dtype (float64 for the book's models).
    optimizer : nbcode.optim.Optimizer
        E.g. ``nbcode.optim.adam(lr=nbcode.schedules.cosine_annealing_lr(1e-3, T_max=100))``.

    Examples
    --------
    >>> from nbcode.optim import sgd
    >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    >>> opt = NumpyOptimizer([w], sgd(lr=0.5))
    >>> (w ** 2).sum().backward(); opt.step()
    >>> w.detach().tolist(), opt.state.step
    ([0.0, 0.0], 1)
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"Invalid optimizer: {v.show(optimizer)} (need an nbcode.optim.Optimizer, e.g. nbcode.optim.adam())")
        if isinstance(params, torch.Tensor) or not isinstance(params, Iterable):
            raise TypeError(f"Invalid params: {v.show(params)} (need an iterable of torch.nn.Parameter, "
                            "e.g. model.parameters())")
        params = list(params)
        for p in params:
            if not isinstance(p, torch.Tensor):
                raise TypeError(f"Invalid params: an entry {v.show(p)} (need torch.nn.Parameter entries)")
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("Invalid params: no parameter requires a gradient")
        dtypes = {p.dtype for p in self.params}
        if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point:
            raise TypeError(f"Invalid params: dtypes {sorted(map(str, dtypes))} (need one floating dtype)")
        self.optimizer = optimizer
        self._sizes = [p.numel() for p in self.params]
        self._flat = self._gather(lambda p: p.detach())
        self.state = optimizer.init(self._flat)
        group = _Group(params=self.params)
        dict.__setitem__(group, "lr", self._lr())
        self.param_groups = [group]

    def _gather(self, part: Callable[[torch.nn.Parameter], torch.Tensor | None]) -> np.ndarray:
        pieces = []
        for p in self.params:
            t = part(p)
            pieces.append(torch.zeros_like(p).reshape(-1) if t is None else t.reshape(-1))
        return torch.cat(pieces).detach().cpu().numpy()

    def _lr(self) -> float:
        lr = self.optimizer.lr
        return float(lr(int(getattr(self.state, "step", 0)))) if lr is not None else float("nan")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (``None``, or zero tensors when ``set_to_none=False``)."""
        if set_to_none is not True and set_to_none is not False:
            v.flag(set_to_none, "set_to_none")
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.detach_()
                p.grad.zero_()

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter from its current gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            v.function(closure, "closure")
            with torch.enable_grad():
                loss = closure()
        grads = self._gather(lambda p: p.grad)
        self._flat = self._gather(lambda p: p)  # the parameters as they are now (they may have been changed)
        self.state = self.optimizer.update_(grads, self.state, self._flat)
        i = 0
        for p, k in zip(self.params, self._sizes):
            p.copy_(torch.from_numpy(self._flat[i : i + k]).view_as(p))
            i += k
        dict.__setitem__(self.param_groups[0], "lr", self._lr())
        return loss

    def __repr__(self) -> str:
        return f"NumpyOptimizer({len(self.params)} tensors, {sum(self._sizes)} parameters, step {getattr(self.state, 'step', '?')})"
