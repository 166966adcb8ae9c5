"""A small, readable training loop for small PyTorch models (see :func:`fit`)."""

from nbcode.train.loop import History, accuracy, evaluate, fit, mlp, seed_everything

__all__ = ["fit", "History", "evaluate", "accuracy", "mlp", "seed_everything"]
