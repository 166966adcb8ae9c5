"""Early stopping: a callback for :func:`nbcode.train.fit`, and its L2 equivalent on a quadratic."""

from __future__ import annotations

import copy
import math
from typing import Any, Sequence

import numpy as np

from nbcode.regularize.linear import _shrink
from nbcode.regularize.penalties import _alpha
from nbcode import _validate

__all__ = ["EarlyStopping", "gd_quadratic_factors", "l2_factors", "matching_alpha"]


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs,
    and (optionally) put back the weights of the best epoch.

    Use as ``fit(..., callback=EarlyStopping(model, patience=5))``. After training,
    ``best_epoch`` is the epoch with the best value (0 = before training), ``stopped_epoch`` the
    epoch at which training stopped (``None`` if it ran to the end; call :meth:`restore` then to
    get the best weights anyway).

    Parameters
    ----------
    model : torch.nn.Module, optional
        Whose ``state_dict`` is saved at every new best and restored at the stop.
    patience : int
        Epochs without improvement tolerated (``>= 1``).
    min_delta : float
        An improvement must be larger than this (``>= 0``).
    monitor : str
        A key of the :class:`nbcode.train.History` (default ``"val_loss"``; lower is better). A
        history without it is refused when the callback reads it.
    restore_best : bool

    Examples
    --------
    >>> from nbcode.train import History
    >>> h, es = History(), EarlyStopping(patience=2)
    >>> h.log(val_loss=5.0)  # before training
    >>> stops = []
    >>> for epoch, v in enumerate([3.0, 2.0, 2.5, 2.1], start=1):
    ...     h.log(val_loss=v)
    ...     stops.append(es(epoch, h))
    >>> stops, es.best_epoch, es.stopped_epoch
    ([False, False, False, True], 2, 4)
    """

    def __init__(
        self, model: Any = None, *, patience: int = 5, min_delta: float = 0.0, monitor: str = "val_loss", restore_best: bool = True
    ) -> None:
        patience = _validate.count(patience, "patience", low=1)
        min_delta = _validate.real(min_delta, "min_delta", low=0)
        self.model = _validate.optional(_validate.module, model, "model")
        self.patience = patience
        self.min_delta = min_delta
        self.monitor = _validate.text(monitor, "monitor", nonempty=True)
        self.restore_best = _validate.flag(restore_best, "restore_best")
        self.best_value = math.inf
        self.best_epoch = -1
        self.stopped_epoch: int | None = None
        self.wait = 0
        self._best_state: dict[str, Any] | None = None
        if model is not None:
            self._best_state = copy.deepcopy(model.state_dict())

    def _snapshot(self, epoch: int, value: float) -> None:
        self.best_value, self.best_epoch, self.wait = value, epoch, 0
        if self.model is not None:
            self._best_state = copy.deepcopy(self.model.state_dict())

    def __call__(self, epoch: int, history: Any) -> bool:
        """Record ``history[monitor]``; return True to stop. The first call also looks at the
        value before training (entry 0)."""
        _validate.count(epoch, "epoch")
        values = self._values(history)
        if self.stopped_epoch is not None:
            return True
        if self.best_epoch < 0:
            # the value before training (entry 0) is the first candidate; its weights were
            # saved when the callback was built
            self.best_value, self.best_epoch = values[0], 0
        value = values[-1]
        if value < self.best_value - self.min_delta:
            self._snapshot(epoch, value)
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            if self.restore_best:
                self.restore()
            return True
        return False

    def _values(self, history: Any) -> Any:
        """``history[monitor]``, checked: a non-empty sequence of numbers."""
        try:
            values = history[self.monitor]
        except KeyError:
            raise ValueError(f"Invalid history: it has no {self.monitor!r} entry (the monitor)") from None
        except (TypeError, IndexError):
            raise TypeError(f"Invalid history: {_validate.show(history)} (need a History, or a dict of lists, "
                            f"with a {self.monitor!r} entry)") from None
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) or len(values) == 0:
            raise ValueError(f"Invalid history: its {self.monitor!r} entry is {_validate.show(values)} (need a non-empty list)")
        for x in (values[0], values[-1]):    # the two entries read (per epoch: no scan of the list)
            if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
                raise TypeError(f"Invalid history: its {self.monitor!r} entry holds {_validate.show(x)} "
                                "(need a list of numbers)")
        return values

    def restore(self) -> None:
        """Load the best weights seen into ``model`` (no-op without a model)."""
        if self.model is not None and self._best_state is not None:
            self.model.load_state_dict(self._best_state)


def gd_quadratic_factors(lams: Any, lr: float, steps: int) -> np.ndarray:
    """Gradient descent from :math:`w_0 = 0` on :math:`\\tfrac12 (w - w^*)^\\top H (w - w^*)`
    after :math:`\\tau` steps, per eigen-direction: :math:`w_\\tau = Q\\,\\mathrm{diag}(f_i)\\,Q^\\top w^*` with

    .. math:: f_i = 1 - (1 - \\eta\\lambda_i)^{\\tau}

    Examples
    --------
    >>> gd_quadratic_factors([1.0], 0.5, 2).tolist()
    [0.75]
    """
    lams = _validate.vector(lams, "lams")
    lr = _validate.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    steps = _validate.count(steps, "steps")
    return np.asarray(1.0 - (1.0 - lr * lams) ** steps)


def l2_factors(lams: Any, alpha: float) -> np.ndarray:
    """The L2 shrinkage :math:`\\lambda_i / (\\lambda_i + \\alpha)` per eigen-direction (see
    :func:`nbcode.regularize.l2_optimum`; 0 at :math:`\\lambda_i = \\alpha = 0`, the limit
    :math:`\\alpha \\to 0^+`).

    Examples
    --------
    >>> l2_factors([1.0, 3.0], 1.0).tolist()
    [0.5, 0.75]
    """
    lams = _validate.vector(lams, "lams")
    if (lams < 0).any():
        raise ValueError(f"Invalid lams: an entry {lams.min():.6g} < 0 (need the eigenvalues of a positive "
                         "semi-definite Hessian, >= 0)")
    return _shrink(lams, _alpha(alpha))


def matching_alpha(lams: Any, lr: float, steps: int) -> float:
    """The :math:`\\alpha` whose L2 factors :math:`\\lambda_i/(\\lambda_i + \\alpha)` are closest to the
    early-stopping factors :math:`1 - (1 - \\eta\\lambda_i)^\\tau` after ``steps`` steps, in least squares
    summed over the given ``lams`` (:math:`\\alpha` searched on a log-spaced grid of 4801 values from
    :math:`10^{-8}` to :math:`10^4`). The prediction :math:`\\alpha = 1/(\\eta\\tau)` :cite:`goodfellow2016`
    is exact in the low-curvature limit; this fit compromises over the whole range of ``lams``.

    Examples
    --------
    >>> lams = np.geomspace(1e-3, 1e-1, 20)
    >>> 0.5 < matching_alpha(lams, 0.1, 100) * 0.1 * 100 < 2.0
    True
    """
    lams = _validate.vector(lams, "lams")
    f = gd_quadratic_factors(lams, lr, steps)
    grid = np.geomspace(1e-8, 1e4, 4801)
    err = (((lams[None, :] / (lams[None, :] + grid[:, None])) - f[None, :]) ** 2).sum(axis=1)
    return float(grid[int(np.argmin(err))])
