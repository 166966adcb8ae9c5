r"""The training loss over the reader's data as a function of the weights, its gradient and its
Hessian-vector products, without touching the model.

.. math:: L(w) = \sum_b \frac{n_b}{n}\, \ell\big(f_w(x_b), y_b\big)

over the batches :math:`b` of the loader (:math:`n_b` rows each). The model is called through
:func:`torch.func.functional_call` with detached copies of its parameters and of its buffers (so a
BatchNorm in training mode updates the copies, never the model's running statistics); attention
runs on PyTorch's math kernel, the one that has a double backward. A Hessian-vector product is
the gradient of :math:`\nabla L(w)^\top v` (double backprop), summed over the batches: one HVP is
a pass over all of the data, not one mini-batch.

(Private: a multi-batch ``HessianOperator`` that leaves BatchNorm models untouched is what
``nbcode.hessian`` will offer after "Right at the edges"; this one then becomes a thin adapter.)
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from nbcode._torch import call_buffers
from nbcode.checkup._data import Batch, Batches, stackable
from nbcode.checkup.quantity import Cost

__all__ = ["Objective", "DataHessian", "BATCH_DEPENDENT", "math_attention"]

#: Layers whose output for one row depends on the other rows of its batch.
BATCH_DEPENDENT: tuple[type, ...] = (nn.modules.batchnorm._BatchNorm,)


@contextlib.contextmanager
def math_attention() -> Iterator[None]:
    """Scaled-dot-product attention on the math kernel (the fused ones have no double backward)."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:  # pragma: no cover - older torch
        yield
        return
    with sdpa_kernel([SDPBackend.MATH]):
        yield


class Objective:
    """:math:`L(w)` over the batches; ``cost`` accumulates what every pass costs.

    Parameters
    ----------
    model : the reader's model (not modified).
    batches : :class:`~nbcode.checkup._data.Batches`.
    loss_fn : ``loss_fn(output, targets) -> scalar``, a mean over the batch.
    cost : the :class:`Cost` to add to.
    merge : bool
        Evaluate several loader batches in one call when that gives the same loss (no batch-dependent
        layer, tensors of equal shapes, and a loss that is a mean over rows, checked on the data).
    """

    def __init__(self, model: nn.Module, batches: Batches, loss_fn: Callable[..., torch.Tensor], cost: Cost, *,
                 merge: bool = True, max_rows: int = 4096) -> None:
        self.model, self.batches, self.loss_fn, self.cost = model, batches, loss_fn, cost
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("Invalid model: it has no parameter with requires_grad=True")
        self.names = [n for n, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.numels = [p.numel() for _, p in named]
        self.dim = int(sum(self.numels))
        self.dtype = named[0][1].dtype
        self.device = named[0][1].device
        self.theta = [p.detach().clone() for _, p in named]
        # copies; running statistics of normalization layers in training mode replaced by None
        # (batch statistics, nothing tracked): the shared helper of nbcode._torch
        self.buffers = call_buffers(model)
        self.n = batches.n
        self.batch_dependent = any(isinstance(m, BATCH_DEPENDENT) for m in model.modules())
        self.chunks: list[Batch] = list(batches)
        if merge and len(batches) > 1 and not self.batch_dependent and stackable(batches):
            self.chunks = self._merged(max_rows)

    # ------------------------------------------------------------------ calls
    def params(self, requires_grad: bool = False, theta: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
        src = self.theta if theta is None else theta
        return [t.detach().requires_grad_(requires_grad) for t in src]

    def output(self, params: Sequence[torch.Tensor], inputs: Any) -> Any:
        mapping = dict(zip(self.names, params))
        with math_attention():
            return _call(self.model, mapping, self.buffers, inputs)

    def batch_loss(self, params: Sequence[torch.Tensor], b: Batch) -> torch.Tensor:
        loss = self.loss_fn(self.output(params, b.inputs), b.targets)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError(f"Invalid loss_fn: it returned {type(loss).__name__} of shape "
                            f"{getattr(loss, 'shape', None)} (need a scalar tensor, the mean over the batch)")
        return loss.reshape(())

    def _merged(self, max_rows: int) -> list[Batch]:
        b0, b1 = self.batches[0], self.batches[1]
        with torch.no_grad():
            p = self.params()
            l0, l1 = float(self.batch_loss(p, b0)), float(self.batch_loss(p, b1))
            both = Batch(torch.cat([b0.inputs, b1.inputs]), torch.cat([b0.targets, b1.targets]), b0.n + b1.n)
            l01 = float(self.batch_loss(p, both))
        self.cost.forward += 2.0 * (b0.n + b1.n) / self.n
        want = (b0.n * l0 + b1.n * l1) / (b0.n + b1.n)
        if not (math.isfinite(l01) and abs(l01 - want) <= 1e-9 * max(1.0, abs(want))):
            return list(self.batches)
        chunks: list[list[Batch]] = []
        cur: list[Batch] = []
        for b in self.batches:
            if cur and sum(c.n for c in cur) + b.n > max_rows:
                chunks.append(cur)
                cur = []
            cur.append(b)
        chunks.append(cur)
        return [Batch(torch.cat([c.inputs for c in ch]), torch.cat([c.targets for c in ch]), sum(c.n for c in ch))
                for ch in chunks]

    # ------------------------------------------------------------------ flat vectors
    def flatten(self, tensors: Sequence[torch.Tensor | None]) -> np.ndarray:
        parts = [np.zeros(k) if t is None else t.detach().reshape(-1).double().cpu().numpy() for t, k in zip(tensors, self.numels)]
        return np.concatenate(parts)

    def unflatten(self, v: np.ndarray) -> list[torch.Tensor]:
        out, i = [], 0
        vt = torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=self.dtype, device=self.device)
        for shape, k in zip(self.shapes, self.numels):
            out.append(vt[i:i + k].reshape(shape))
            i += k
        return out

    def theta_flat(self) -> np.ndarray:
        return self.flatten(self.theta)

    # ------------------------------------------------------------------ passes
    def loss(self, theta: Sequence[torch.Tensor] | None = None) -> float:
        """:math:`L(w)` (one forward pass)."""
        with torch.no_grad():
            p = self.params(theta=theta)
            total = sum(b.n * float(self.batch_loss(p, b)) for b in self.chunks)
        self.cost.forward += 1.0
        return total / self.n

    def gradient(self, batches: Sequence[Batch] | None = None) -> tuple[float, list[torch.Tensor]]:
        """``(loss, gradient)`` over ``batches`` (default: all; weights :math:`n_b/\\sum n_b`)."""
        bs = self.chunks if batches is None else list(batches)
        rows = sum(b.n for b in bs)
        p = self.params(True)
        grads = [torch.zeros_like(t) for t in p]
        total = 0.0
        for b in bs:
            loss = self.batch_loss(p, b) * (b.n / rows)
            gs = torch.autograd.grad(loss, p, allow_unused=True)
            for acc, g in zip(grads, gs):
                if g is not None:
                    acc.add_(g)
            total += float(loss.detach())
        self.cost.forward += rows / self.n
        self.cost.backward += rows / self.n
        return total, grads

    def hvp(self, v: np.ndarray, *, batches: Sequence[Batch] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(Hv, quads)``: :math:`Hv` over all the data (one HVP), and :math:`v^\\top H_c v` for each
        chunk :math:`c` evaluated. With ``batches``, only those batches are used (``Hv`` is then their
        weighted part, and the cost is counted in rows, not as an HVP)."""
        vs = self.unflatten(v)
        bs = self.chunks if batches is None else list(batches)
        out = [torch.zeros_like(t) for t in self.theta]
        quads = np.zeros(len(bs))
        for i, b in enumerate(bs):
            p = self.params(True)
            loss = self.batch_loss(p, b)
            gs = torch.autograd.grad(loss, p, create_graph=True, allow_unused=True)
            dot = sum(((g * vv).sum() for g, vv in zip(gs, vs) if g is not None and g.requires_grad), torch.zeros((), dtype=self.dtype, device=self.device))
            if dot.requires_grad:
                hs = torch.autograd.grad(dot, p, allow_unused=True)
                for acc, h in zip(out, hs):
                    if h is not None:
                        acc.add_(h, alpha=b.n / self.n)
                quads[i] = sum(float((h * vv).sum()) for h, vv in zip(hs, vs) if h is not None)
        if batches is None:
            self.cost.forward += 1.0
            self.cost.backward += 2.0
            self.cost.hvp += 1
        else:
            rows = sum(b.n for b in bs) / self.n
            self.cost.forward += rows
            self.cost.backward += 2.0 * rows
        return self.flatten(out), quads

    def operator(self) -> "DataHessian":
        return DataHessian(self)


class DataHessian:
    """The Hessian of :class:`Objective` as an operator for :mod:`nbcode.hessian`'s Lanczos,
    Hutchinson and SLQ (``dim``, ``matvec``, ``n_matvec``); ``scale`` multiplies it (``-1`` gives the
    most negative eigenvalue as the largest) and ``precond`` (a vector :math:`p`) makes it
    :math:`P^{-1/2} H P^{-1/2}` with :math:`P = \\operatorname{diag}(p)`."""

    def __init__(self, obj: Objective, *, scale: float = 1.0, precond: np.ndarray | None = None,
                 on_product: Callable[[], None] | None = None) -> None:
        self.obj, self.scale = obj, scale
        self.dim = obj.dim
        self.n_matvec = 0
        self.d = None if precond is None else 1.0 / np.sqrt(precond)
        self.on_product = on_product

    def matvec(self, v: Any) -> np.ndarray:
        va = np.asarray(v, dtype=np.float64)
        if self.d is not None:
            va = self.d * va
        hv, _ = self.obj.hvp(va)
        self.n_matvec += 1
        if self.on_product is not None:
            self.on_product()
        if self.d is not None:
            hv = self.d * hv
        return self.scale * hv


def _call(model: nn.Module, params: dict[str, torch.Tensor], buffers: dict[str, Any], inputs: Any) -> Any:
    if isinstance(inputs, dict):
        return functional_call(model, (params, buffers), (), dict(inputs), strict=False)
    if isinstance(inputs, tuple):
        return functional_call(model, (params, buffers), inputs, strict=False)
    return functional_call(model, (params, buffers), (inputs,), strict=False)


