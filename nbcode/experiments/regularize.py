"""The experiments of the chapter "Regularization" (``book/regularization.ipynb``): dropout on
the digits, shift augmentation, and a playground in the spirit of TensorFlow Playground on 2-D
toy data. Every network is :func:`nbcode.train.mlp` trained by :func:`nbcode.train.fit`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from nbcode import _validate as v
from nbcode.data import load_digits, toy2d
from nbcode.regularize.augment import augment_shifts, shift_images
from nbcode.train import accuracy, fit, mlp, seed_everything

__all__ = ["dropout_digits", "PlaygroundRun", "playground_run", "augmentation_digits"]


def dropout_digits(
    ps: Sequence[float], *, n_train: int = 300, hidden: int = 256, epochs: int = 60, lr: float = 1e-3, seed: int = 0
) -> dict[float, dict[str, list[float]]]:
    """Train a ``64-hidden-hidden-10`` ReLU MLP with dropout ``p`` on the first ``n_train``
    training digits (Adam, batch 50) for each ``p``; return per-epoch train and test loss and
    accuracy (the test set is used as the held-out set).

    Examples
    --------
    >>> r = dropout_digits([0.0], n_train=50, hidden=8, epochs=1)
    >>> sorted(r[0.0])
    ['test_acc', 'test_loss', 'train_acc', 'train_loss']
    """
    d = load_digits()
    Xtr = torch.tensor(d.X_train[:n_train], dtype=torch.float64)
    ytr = torch.tensor(d.y_train[:n_train])
    Xte = torch.tensor(d.X_test, dtype=torch.float64)
    yte = torch.tensor(d.y_test)
    out: dict[float, dict[str, list[float]]] = {}
    for p in ps:
        seed_everything(seed)
        model = mlp([64, hidden, hidden, 10], dropout=p)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        h = fit(model, opt, Xtr, ytr, epochs=epochs, batch_size=50, val=(Xte, yte), seed=seed, progress=False)
        out[float(p)] = {
            "train_loss": h["train_loss"],
            "train_acc": h["train_acc"],
            "test_loss": h["val_loss"],
            "test_acc": h["val_acc"],
        }
    return out


@dataclass
class PlaygroundRun:
    """One playground training: losses and the predicted probability on a ``grid × grid`` mesh."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    xs: np.ndarray
    prob: np.ndarray
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float


def playground_run(
    name: str,
    *,
    hidden: int = 8,
    weight_decay: float = 0.0,
    p: float = 0.0,
    n: int = 100,
    noise: float = 0.2,
    epochs: int = 200,
    grid: int = 31,
    seed: int = 0,
) -> PlaygroundRun:
    """Train a ``2-hidden-hidden-1`` tanh network on ``n`` points of a toy set (full-batch Adam,
    learning rate 0.03, the points in order) and test it on ``n`` fresh points drawn with
    another seed.

    Dropout ``p`` follows each hidden layer. ``weight_decay`` is :math:`\\alpha` of an L2 penalty
    :math:`\\tfrac{\\alpha}{2}\\|W\\|^2` on the weight matrices (not the biases), added to the
    loss, so it is a true L2 penalty, not AdamW's decoupled decay.

    Examples
    --------
    >>> r = playground_run("xor", hidden=4, epochs=5, grid=5)
    >>> r.prob.shape
    (5, 5)
    """
    a = v.real(weight_decay, "weight_decay", low=0)
    p = v.probability(p, "dropout probability", allow_one=False)
    epochs = v.count(epochs, "epochs")
    grid = v.count(grid, "grid", low=2)
    X, y = toy2d(name, n, noise=noise, seed=seed)
    X2, y2 = toy2d(name, n, noise=noise, seed=seed + 1000)
    Xtr, ytr = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    Xte, yte = torch.tensor(X2, dtype=torch.float64), torch.tensor(y2, dtype=torch.float64)
    seed_everything(seed)
    model = mlp([2, hidden, hidden, 1], nn.Tanh, dropout=p)
    weights = [m.weight for m in model if isinstance(m, nn.Linear)]
    bce = nn.functional.binary_cross_entropy_with_logits

    def penalized(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return bce(out.squeeze(1), target) + 0.5 * a * sum((w**2).sum() for w in weights)

    fit(model, torch.optim.Adam(model.parameters(), lr=0.03), Xtr, ytr, epochs=epochs, shuffle=False, loss_fn=penalized,
        progress=False)
    model.eval()
    lo, hi = float(min(X.min(), X2.min())) - 0.3, float(max(X.max(), X2.max())) + 0.3
    xs = np.linspace(lo, hi, grid)
    gx, gy = np.meshgrid(xs, xs)
    with torch.no_grad():
        mesh = torch.tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float64)
        prob = torch.sigmoid(model(mesh)).reshape(grid, grid).double().numpy()
        ztr, zte = model(Xtr).squeeze(1), model(Xte).squeeze(1)
        res = PlaygroundRun(
            X, y, X2, y2, xs, prob,
            float(bce(ztr, ytr)), float(bce(zte, yte)),
            float(((ztr > 0).float() == ytr).float().mean()), float(((zte > 0).float() == yte).float().mean()),
        )
    return res


SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def augmentation_digits(
    *, n_train: int = 300, hidden: int = 128, epochs: int = 60, lr: float = 3e-3, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Train a ``64-hidden-10`` ReLU MLP on ``n_train`` digits (pixels scaled to [0, 1]) with and
    without one-pixel shift augmentation (:func:`nbcode.regularize.augment_shifts`, 5× the
    data, ``epochs // 5`` epochs so that both runs take the same number of steps). Returns train
    accuracy, test accuracy, and accuracy on the test digits shifted by one pixel.

    Examples
    --------
    >>> r = augmentation_digits(n_train=50, hidden=8, epochs=5)
    >>> sorted(r), sorted(r["plain"])
    (['augmented', 'plain'], ['shifted_test_acc', 'test_acc', 'train_acc'])
    """
    d = load_digits()
    raw = (d.X_train[:n_train] * d.std + d.mean) / 16.0
    raw_test = (d.X_test * d.std + d.mean) / 16.0
    Xte, yte = torch.tensor(raw_test, dtype=torch.float64), torch.tensor(d.y_test)
    Xsh = torch.tensor(np.concatenate([shift_images(raw_test, dx, dy) for dx, dy in SHIFTS]), dtype=torch.float64)
    ysh = yte.repeat(len(SHIFTS))
    Xa, ya = augment_shifts(raw, d.y_train[:n_train], SHIFTS)
    out: dict[str, dict[str, float]] = {}
    for name, (A, b, ep) in {"plain": (raw, d.y_train[:n_train], epochs), "augmented": (Xa, ya, max(1, epochs // 5))}.items():
        seed_everything(seed)
        model = mlp([64, hidden, 10])
        h = fit(model, torch.optim.Adam(model.parameters(), lr=lr), torch.tensor(A, dtype=torch.float64), torch.tensor(b),
                epochs=ep, batch_size=50, seed=seed, progress=False)
        model.eval()
        with torch.no_grad():
            out[name] = {"train_acc": h["train_acc"][-1], "test_acc": accuracy(model(Xte), yte), "shifted_test_acc": accuracy(model(Xsh), ysh)}
    return out
