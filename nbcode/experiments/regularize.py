"""The experiments of the chapter "Regularization" (``book/regularization.ipynb``): dropout on
the digits and its test-time rules (:func:`dropout_digits`, :func:`mc_dropout_predict`), label
smoothing on the digits (:func:`label_smoothing_digits`), shift augmentation, a playground in
the spirit of TensorFlow Playground on 2-D toy data, and the small data sets of the linear
sections (:func:`correlated_features`, :func:`logistic_data`). Every network is
:func:`nbcode.train.mlp` trained by :func:`nbcode.train.fit` with the book's Adam
(:func:`nbcode.optim.adam`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from nbcode import _validate as v
from nbcode._torch import check_fit
from nbcode.data import TOY_SETS, load_digits, toy2d
from nbcode.experiments._checks import reals
from nbcode.optim import adam
from nbcode.regularize.augment import augment_shifts, shift_images
from nbcode.regularize.noise import smoothed_logit_gap
from nbcode.train import accuracy, fit, mlp, seed_everything

__all__ = [
    "DropoutRun", "dropout_digits", "mc_dropout_predict", "SmoothingRun", "label_smoothing_digits", "PlaygroundRun",
    "playground_run", "augmentation_digits", "correlated_features", "logistic_data", "weight_decay_digits",
]


#: The mini-batch size of the digits experiments (``n_train`` is at least this).
BATCH = 50


def _digits_tensors(n_train: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    d = load_digits()
    n_train = v.count(n_train, "n_train", low=BATCH, high=d.X_train.shape[0])
    return (torch.tensor(d.X_train[:n_train], dtype=torch.float64), torch.tensor(d.y_train[:n_train]),
            torch.tensor(d.X_test, dtype=torch.float64), torch.tensor(d.y_test))


@dataclass
class DropoutRun:
    """One run of :func:`dropout_digits`: per-epoch metrics (``run["test_loss"]``) and the trained model."""

    metrics: dict[str, list[float]]
    model: nn.Module = field(repr=False)

    def __getitem__(self, key: str) -> list[float]:
        return self.metrics[key]


def dropout_digits(
    ps: Sequence[float], *, n_train: int = 300, hidden: int = 256, epochs: int = 60, lr: float = 1e-3, seed: int = 0
) -> dict[float, DropoutRun]:
    """Train a ``64-hidden-hidden-10`` ReLU MLP with dropout ``p`` on the first ``n_train``
    training digits (Adam, batch 50, so ``n_train >= 50``) for each ``p``; return per-epoch
    train and test loss and accuracy (the test set is used as the held-out set), and the model.

    Examples
    --------
    >>> r = dropout_digits([0.0], n_train=50, hidden=8, epochs=1)
    >>> sorted(r[0.0].metrics)
    ['test_acc', 'test_loss', 'train_acc', 'train_loss']
    """
    ps = reals(ps, "ps", what="dropout probability in ps", low=0, high=1, high_open=True, symbol="p")
    Xtr, ytr, Xte, yte = _digits_tensors(n_train)
    hidden = v.count(hidden, "hidden", low=1)
    epochs = v.count(epochs, "epochs")
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    seed = v.count(seed, "seed")
    out: dict[float, DropoutRun] = {}
    for p in ps:
        seed_everything(seed)
        model = mlp([64, hidden, hidden, 10], dropout=p)
        h = fit(model, adam(lr=lr), Xtr, ytr, epochs=epochs, batch_size=BATCH, val=(Xte, yte), seed=seed, progress=False)
        out[p] = DropoutRun({"train_loss": h["train_loss"], "train_acc": h["train_acc"], "test_loss": h["val_loss"],
                             "test_acc": h["val_acc"]}, model)
    return out


def weight_decay_digits(
    alphas: Sequence[float], *, n_train: int = 300, hidden: int = 128, epochs: int = 40, lr: float = 1e-3, seed: int = 0
) -> dict[float, dict[str, list[float]]]:
    """Train a ``64-hidden-hidden-10`` ReLU MLP on the first ``n_train >= 50`` training digits (Adam,
    batch 50) with the L2 penalty :math:`\\tfrac{\\alpha}{2}\\sum_l\\|W_l\\|^2` on the weight matrices (not the
    biases) added to the mean cross-entropy, for each ``alpha``. Returns, after every epoch, the
    unpenalized cross-entropy on the validation digits (``val_loss``) and on the test digits
    (``test_loss``), and the test accuracy (``test_acc``): the validation set chooses, the test set
    measures.

    Examples
    --------
    >>> r = weight_decay_digits([0.0, 0.1], n_train=50, hidden=8, epochs=2)
    >>> sorted(r[0.1]), len(r[0.1]["val_loss"])
    (['test_acc', 'test_loss', 'val_loss'], 2)
    """
    alphas = reals(alphas, "alphas", what="alpha in alphas", low=0, symbol="alpha")
    Xtr, ytr, Xte, yte = _digits_tensors(n_train)
    d = load_digits()
    Xva, yva = torch.tensor(d.X_val, dtype=torch.float64), torch.tensor(d.y_val)
    hidden = v.count(hidden, "hidden", low=1)
    epochs = v.count(epochs, "epochs")
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    seed = v.count(seed, "seed")
    ce = nn.functional.cross_entropy
    out: dict[float, dict[str, list[float]]] = {}
    for a in alphas:
        seed_everything(seed)
        model = mlp([64, hidden, hidden, 10])
        weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
        rec: dict[str, list[float]] = {"val_loss": [], "test_loss": [], "test_acc": []}

        def penalized(logits: torch.Tensor, target: torch.Tensor, a: float = a, weights: list[torch.Tensor] = weights) -> torch.Tensor:
            return ce(logits, target) + 0.5 * a * sum((w**2).sum() for w in weights)

        def record(epoch: int, history: object, model: nn.Module = model, rec: dict[str, list[float]] = rec) -> bool:
            model.eval()
            with torch.no_grad():
                rec["val_loss"].append(float(ce(model(Xva), yva)))
                zte = model(Xte)
                rec["test_loss"].append(float(ce(zte, yte)))
                rec["test_acc"].append(accuracy(zte, yte))
            model.train()
            return False

        fit(model, adam(lr=lr), Xtr, ytr, epochs=epochs, batch_size=BATCH, loss_fn=penalized, callback=record, seed=seed,
            progress=False)
        out[a] = rec
    return out


@torch.no_grad()
def mc_dropout_predict(model: nn.Module, X: torch.Tensor, samples: int, *, seed: int = 0) -> np.ndarray:
    """Monte-Carlo dropout at test time: the class probabilities averaged over ``samples`` forward
    passes with the dropout layers in training mode (every one draws fresh masks), ``(n, K)``.

    The weight-scaling rule is one pass in evaluation mode instead (``model.eval()``); this is
    the arithmetic mean over the ensemble of thinned networks, estimated by sampling. Only the
    dropout layers (``torch.nn`` dropout modules) are switched to training mode: a BatchNorm layer
    keeps using its running statistics, which do not move. The global random state and the mode
    of every module are left as they were.

    Examples
    --------
    >>> net = mlp([4, 8, 3], dropout=0.5, seed=0)
    >>> P = mc_dropout_predict(net, torch.ones(2, 4, dtype=torch.float64), 5)
    >>> P.shape, bool(np.allclose(P.sum(axis=1), 1.0))
    ((2, 3), True)
    """
    v.module(model)
    v.tensor(X, "X", floating=True, finite=True, nonempty=True)
    check_fit(model, X)
    samples = v.count(samples, "samples", low=1)
    seed = v.count(seed, "seed")
    drops = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    if not drops:
        raise ValueError("Invalid model: it has no dropout layer (every pass would give the same prediction)")
    modes = [(m, m.training) for m in model.modules()]
    total = None
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model.eval()
        for layer in drops:
            layer.train()
        try:
            for _ in range(samples):
                probs = torch.softmax(model(X), dim=1).double().numpy()
                total = probs if total is None else total + probs
        finally:
            for mod, mode in modes:
                mod.training = mode
    assert total is not None
    return np.asarray(total / samples)


@dataclass
class SmoothingRun:
    """One run of :func:`label_smoothing_digits`: per-epoch metrics (the test loss is the plain
    cross-entropy), and the gap between the true class's logit and the mean of the others on
    each training example at the end."""

    smoothing: float
    metrics: dict[str, list[float]]
    gaps: np.ndarray
    target_gap: float


def label_smoothing_digits(
    smoothings: Sequence[float], *, n_train: int = 300, hidden: int = 128, epochs: int = 60, lr: float = 3e-3, seed: int = 0
) -> dict[float, SmoothingRun]:
    r"""Train a ``64-hidden-10`` ReLU MLP on the first ``n_train`` digits (Adam, batch 50, so
    ``n_train >= 50``) with the cross-entropy against smoothed labels (``label_smoothing``), for
    each amount of smoothing; the test loss is measured with the plain cross-entropy.

    With smoothing :math:`\varepsilon_{\text{ls}}`, a network that fits its training set drives the
    gap between the true logit and each other one towards
    :func:`nbcode.regularize.smoothed_logit_gap`; without, the gap grows as long as it trains.

    Examples
    --------
    >>> r = label_smoothing_digits([0.1], n_train=50, hidden=8, epochs=1)
    >>> r[0.1].gaps.shape, round(r[0.1].target_gap, 4)
    ((50,), 4.5109)
    """
    smoothings = reals(smoothings, "smoothings", what="label smoothing in smoothings", low=0, high=1, symbol="label smoothing")
    Xtr, ytr, Xte, yte = _digits_tensors(n_train)
    hidden = v.count(hidden, "hidden", low=1)
    epochs = v.count(epochs, "epochs")
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    seed = v.count(seed, "seed")
    out: dict[float, SmoothingRun] = {}
    for eps in smoothings:
        seed_everything(seed)
        model = mlp([64, hidden, 10])
        loss = lambda z, t, e=eps: nn.functional.cross_entropy(z, t, label_smoothing=e)  # noqa: E731
        h = fit(model, adam(lr=lr), Xtr, ytr, epochs=epochs, batch_size=BATCH, loss_fn=loss, seed=seed, progress=False)
        with torch.no_grad():
            Z = model(Xtr).double().numpy()
            test_loss = float(nn.functional.cross_entropy(model(Xte), yte))
            test_acc = accuracy(model(Xte), yte)
        true = Z[np.arange(Z.shape[0]), ytr.numpy()]
        others = (Z.sum(axis=1) - true) / (Z.shape[1] - 1)
        metrics = {"train_loss": h["train_loss"], "train_acc": h["train_acc"], "test_loss": [test_loss], "test_acc": [test_acc]}
        out[eps] = SmoothingRun(eps, metrics, true - others, smoothed_logit_gap(10, eps))
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
    v.choice(name, "name", TOY_SETS)
    hidden = v.count(hidden, "hidden", low=1)
    a = v.real(weight_decay, "weight_decay", low=0)
    p = v.probability(p, "dropout probability", allow_one=False)
    n = v.count(n, "number of points", low=4)
    noise = v.real(noise, "noise", low=0)
    epochs = v.count(epochs, "epochs")
    grid = v.count(grid, "grid", low=2)
    seed = v.count(seed, "seed")
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
    """Train a ``64-hidden-10`` ReLU MLP on ``n_train >= 50`` digits (pixels scaled to [0, 1]; Adam, batch 50) with and
    without one-pixel shift augmentation (:func:`nbcode.regularize.augment_shifts`, 5× the
    data, ``epochs // 5`` epochs so that both runs take the same number of steps). Returns the
    accuracy on the run's own training set (``train_acc``: the 5× set for the augmented run), on
    the ``n_train`` original training digits (``original_train_acc``, the same set for both), on
    the test digits, and on the test digits shifted by one pixel.

    Examples
    --------
    >>> r = augmentation_digits(n_train=50, hidden=8, epochs=5)
    >>> sorted(r), sorted(r["plain"])
    (['augmented', 'plain'], ['original_train_acc', 'shifted_test_acc', 'test_acc', 'train_acc'])
    """
    d = load_digits()
    n_train = v.count(n_train, "n_train", low=BATCH, high=d.X_train.shape[0])
    hidden = v.count(hidden, "hidden", low=1)
    epochs = v.count(epochs, "epochs")
    lr = v.real(lr, "learning rate", low=0, low_open=True, symbol="lr")
    seed = v.count(seed, "seed")
    raw = (d.X_train[:n_train] * d.std + d.mean) / 16.0
    raw_test = (d.X_test * d.std + d.mean) / 16.0
    Xte, yte = torch.tensor(raw_test, dtype=torch.float64), torch.tensor(d.y_test)
    Xsh = torch.tensor(np.concatenate([shift_images(raw_test, dx, dy) for dx, dy in SHIFTS]), dtype=torch.float64)
    ysh = yte.repeat(len(SHIFTS))
    Xa, ya = augment_shifts(raw, d.y_train[:n_train], SHIFTS)
    Xo, yo = torch.tensor(raw, dtype=torch.float64), torch.tensor(d.y_train[:n_train])
    out: dict[str, dict[str, float]] = {}
    for name, (A, b, ep) in {"plain": (raw, d.y_train[:n_train], epochs), "augmented": (Xa, ya, max(1, epochs // 5))}.items():
        seed_everything(seed)
        model = mlp([64, hidden, 10])
        h = fit(model, adam(lr=lr), torch.tensor(A, dtype=torch.float64), torch.tensor(b), epochs=ep, batch_size=BATCH, seed=seed,
                progress=False)
        model.eval()
        with torch.no_grad():
            out[name] = {"train_acc": h["train_acc"][-1], "original_train_acc": accuracy(model(Xo), yo),
                         "test_acc": accuracy(model(Xte), yte), "shifted_test_acc": accuracy(model(Xsh), ysh)}
    return out


def correlated_features(n: int = 100, *, correlation: float = 0.98, noise: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""A regression in which two features carry the same signal: :math:`x_1, x_2` standard normal
    with correlation ``correlation``, :math:`x_3, x_4` independent, :math:`y = x_1 + x_2 + 0.5x_3 +`
    noise. Columns standardized (mean 0, :math:`\|x_j\|^2 = n`), :math:`y` centred.

    Examples
    --------
    >>> X, y = correlated_features(200)
    >>> X.shape, round(float(np.corrcoef(X[:, 0], X[:, 1])[0, 1]), 2)
    ((200, 4), 0.98)
    """
    n = v.count(n, "n", low=3)
    c = v.real(correlation, "correlation", low=-1, high=1, low_open=True, high_open=True)
    noise = v.real(noise, "noise", low=0)
    rng = np.random.default_rng(v.count(seed, "seed"))
    z = rng.standard_normal((n, 4))
    X = z.copy()
    X[:, 1] = c * z[:, 0] + np.sqrt(1.0 - c * c) * z[:, 1]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = X[:, 0] + X[:, 1] + 0.5 * X[:, 2] + noise * rng.standard_normal(n)
    return X, y - y.mean()


def logistic_data(n: int = 200, *, scales: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
                  w: Sequence[float] = (2.0, -1.0, 0.5, 0.3, -0.2), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Labels 0/1 drawn from a logistic model :math:`P(y = 1) = \sigma(x^\top w)`, with independent
    normal features of standard deviations ``scales`` (so the features differ in scale).

    Examples
    --------
    >>> X, y = logistic_data(50)
    >>> X.shape, sorted(set(y.tolist()))
    ((50, 5), [0.0, 1.0])
    """
    n = v.count(n, "n", low=2)
    sc = v.vector(scales, "scales")
    wa = v.vector(w, "w", size=sc.size)
    rng = np.random.default_rng(v.count(seed, "seed"))
    X = rng.standard_normal((n, sc.size)) * sc
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ wa)))).astype(np.float64)
    return X, y
