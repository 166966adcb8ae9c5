"""The reader's data as a fixed list of batches on the model's device.

A loader is iterated once (a shuffling ``DataLoader`` would give other batches on a second pass,
and every measurement must see the same data); each batch is turned into ``(inputs, targets)``:

* a ``(x, y)`` tuple or list: inputs ``x``, targets ``y``;
* a dict: ``batch_fn(batch)`` must return ``(inputs, targets)`` (keys ``x``/``y``,
  ``input(s)``/``target(s)`` or ``label(s)`` are understood without one);
* a tensor: inputs without targets (``loss_fn(output, None)``).

Inputs may be a tensor, a tuple of tensors (``model(*x)``) or a dict (``model(**x)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch

from nbcode import _validate as V

__all__ = ["Batch", "Batches", "as_batches", "to_device", "call_model", "check_batches"]

_X_KEYS = ("x", "input", "inputs")
_Y_KEYS = ("y", "target", "targets", "label", "labels")


@dataclass
class Batch:
    """``inputs`` and ``targets`` of one batch and its number of rows ``n``."""

    inputs: Any
    targets: Any
    n: int


def to_device(obj: Any, device: torch.device) -> Any:
    """Copies of the tensors inside ``obj`` (tuples, lists, dicts) on ``device``: always copies, so a
    loader that refills one buffer in place (or a caller who changes a tensor later) does not change
    the stored batches."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, copy=True)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def _rows(obj: Any) -> int | None:
    if isinstance(obj, torch.Tensor):
        return int(obj.shape[0]) if obj.ndim > 0 else None
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        for v in obj:
            r = _rows(v)
            if r is not None:
                return r
    return None


def call_model(model: Callable[..., Any], inputs: Any) -> Any:
    """``model(inputs)``, ``model(*inputs)`` for a tuple, ``model(**inputs)`` for a dict."""
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)


def _split(batch: Any, batch_fn: Callable[[Any], Any] | None, index: int) -> tuple[Any, Any]:
    if batch_fn is not None:
        out = batch_fn(batch)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"Invalid batch_fn: it returned {V.show(out)} for batch {index} (need (inputs, targets))")
        return out[0], out[1]
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)):
        if len(batch) != 2:
            raise ValueError(f"Invalid batch {index}: a {type(batch).__name__} of length {len(batch)} (need (inputs, targets), "
                             "or pass batch_fn)")
        return batch[0], batch[1]
    if isinstance(batch, dict):
        xs = [k for k in _X_KEYS if k in batch]
        ys = [k for k in _Y_KEYS if k in batch]
        if len(xs) == 1 and len(ys) == 1:
            return batch[xs[0]], batch[ys[0]]
        raise ValueError(f"Invalid batch {index}: a dict with keys {sorted(batch)} (pass batch_fn=lambda b: (inputs, targets))")
    raise TypeError(f"Invalid batch {index}: {V.show(batch)} (need an (inputs, targets) pair, a dict with batch_fn, or a tensor)")


class Batches(list[Batch]):
    """The list of :class:`Batch` with ``n``, the total number of rows."""

    @property
    def n(self) -> int:
        return sum(b.n for b in self)


def as_batches(loader: Any, batch_fn: Callable[[Any], Any] | None, device: torch.device) -> Batches:
    """Iterate ``loader`` once and return its batches as :class:`Batches` on ``device``.

    Examples
    --------
    >>> bs = as_batches([(torch.ones(4, 2), torch.zeros(4))] * 3, None, torch.device("cpu"))
    >>> len(bs), bs.n
    (3, 12)
    """
    if batch_fn is not None:
        V.function(batch_fn, "batch_fn")
    if isinstance(loader, (torch.Tensor, dict)) or loader is None or isinstance(loader, (str, bytes)):
        raise TypeError(f"Invalid loader: {V.show(loader)} (need an iterable of batches, e.g. a DataLoader or a list of (x, y))")
    try:
        it: Iterable[Any] = iter(loader)
    except TypeError as e:
        raise TypeError(f"Invalid loader: {V.show(loader)} (need an iterable of batches)") from e
    out = Batches()
    for i, raw in enumerate(it):
        x, y = _split(raw, batch_fn, i)
        n = _rows(x)
        if n is None or n < 1:
            raise ValueError(f"Invalid batch {i}: its inputs have no rows ({V.show(x)})")
        out.append(Batch(to_device(x, device), to_device(y, device), n))
    if not out:
        raise ValueError("Invalid loader: it gave no batches")
    return out


def check_batches(model: torch.nn.Module, batches: Batches, loss_fn: Callable[..., Any]) -> None:
    """Refuse batches that do not fit ``model`` and ``loss_fn`` by name (``nbcode._torch.check_fit``
    on each batch of plain tensors: dtype, features, labels in range, target shapes, a scalar loss),
    and a batch of one row that BatchNorm cannot normalize in training mode. Nothing changes."""
    from nbcode._torch import one_row_error
    from nbcode.train.loop import _check_fit  # nbcode.train imports the checkup's rates

    for i, b in enumerate(batches):
        if not isinstance(b.inputs, torch.Tensor) or not (b.targets is None or isinstance(b.targets, torch.Tensor)):
            continue
        try:
            _check_fit(model, b.inputs, b.targets, loss_fn, ("x", "y"))
        except (TypeError, ValueError) as e:
            raise type(e)(f"{e}, in batch {i} (x, y) of the loader") from None
        if b.n == 1 and one_row_error(model, b.inputs) is not None:
            raise ValueError(f"Invalid batch {i}: one row, which BatchNorm cannot normalize in training mode (the loss "
                             "measured is the training one; use batches of two rows or more)")


def stackable(batches: Batches) -> bool:
    """True when every batch's inputs and targets are single tensors (rows can be drawn from them)."""
    first = batches[0]
    if not isinstance(first.inputs, torch.Tensor) or not isinstance(first.targets, torch.Tensor):
        return False
    return all(isinstance(b.inputs, torch.Tensor) and isinstance(b.targets, torch.Tensor)
               and b.inputs.shape[1:] == first.inputs.shape[1:] and b.targets.shape[1:] == first.targets.shape[1:]
               and b.targets.shape[0] == b.n for b in batches)


def stacked(batches: Batches) -> tuple[torch.Tensor, torch.Tensor]:
    """All rows as one ``(X, y)`` (requires :func:`stackable`)."""
    return torch.cat([b.inputs for b in batches]), torch.cat([b.targets for b in batches])
