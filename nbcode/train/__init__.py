"""Training torch models: one readable loop, one network builder, the book's optimizers on torch.

* :func:`fit` — the one training loop (mini-batches or full batch, seeded shuffling, per-epoch
  and per-step callbacks, divergence reported instead of crashing);
* :func:`mlp` — the one MLP builder (BatchNorm, dropout, float64 by default);
* :class:`NumpyOptimizer` — any :mod:`nbcode.optim` optimizer stepping a model's parameters;
* :func:`lr_range_test` — Smith's learning-rate range test.
"""

from nbcode.train.adapter import NumpyOptimizer
from nbcode.train.loop import History, accuracy, evaluate, fit, mlp, seed_everything
from nbcode.train.range_test import RangeTest, lr_range_test

__all__ = ["fit", "History", "evaluate", "accuracy", "mlp", "seed_everything", "NumpyOptimizer", "RangeTest", "lr_range_test"]
