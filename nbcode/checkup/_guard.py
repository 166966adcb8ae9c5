"""Leave everything as it was: the model's parameters and buffers, ``requires_grad`` flags, ``.grad``
fields, train/eval modes, the optimizer's state and the global random-number generators.

(A private helper: the package-wide one of "Right at the edges" can replace it once it lands.)
"""

from __future__ import annotations

import contextlib
import copy
import random
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

__all__ = ["preserved", "DROPOUT_TYPES", "objective_modes"]

DROPOUT_TYPES: tuple[type, ...] = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


@contextlib.contextmanager
def preserved(model: nn.Module, optimizer: Any = None) -> Iterator[None]:
    """Snapshot everything a measurement could touch, and restore it on exit (also after an error)."""
    state = {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}
    flags = [(p, p.requires_grad, p.grad) for p in model.parameters()]
    modes = [(m, m.training) for m in model.modules()]
    opt_state = copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None
    rng_torch = torch.random.get_rng_state()
    rng_cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    rng_np = np.random.get_state()
    rng_py = random.getstate()
    try:
        yield
    finally:
        with torch.no_grad():
            live = model.state_dict(keep_vars=True)
            for k, v in state.items():
                if live[k].shape == v.shape:
                    live[k].data.copy_(v)
        for p, rg, g in flags:
            p.requires_grad_(rg)
            p.grad = g
        for m, t in modes:
            m.training = t
        if optimizer is not None and opt_state is not None:
            optimizer.load_state_dict(opt_state)
        torch.random.set_rng_state(rng_torch)
        if rng_cuda is not None:
            torch.cuda.set_rng_state_all(rng_cuda)
        np.random.set_state(rng_np)
        random.setstate(rng_py)


@contextlib.contextmanager
def objective_modes(model: nn.Module) -> Iterator[None]:
    """The modes of the training objective: every module in training mode (normalization layers use
    the batch's statistics, as in training) except dropout, which is off so that the loss is a
    deterministic function of the weights. Restored on exit."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        for m in model.modules():
            m.training = not isinstance(m, DROPOUT_TYPES)
        yield
    finally:
        for m, t in modes:
            m.training = t
