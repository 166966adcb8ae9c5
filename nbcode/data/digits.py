"""scikit-learn's digits with a fixed split (no download: the data ship with scikit-learn)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits as _sk_load_digits
from sklearn.model_selection import train_test_split

from nbcode import _validate

__all__ = ["Split", "load_digits"]

#: The feature dtypes :meth:`Split.as_tensors` takes (names of torch's floating-point dtypes).
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


@dataclass(frozen=True)
class Split:
    """Train, validation and test arrays. ``X_*`` are (n, 64) floats, ``y_*`` int64 labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        """Copies of the arrays (the caller's stay theirs), with consistent shapes."""
        d = None
        for part in ("train", "val", "test"):
            X = _validate.array(getattr(self, f"X_{part}"), f"X_{part}", shape=(None, d))
            y = getattr(self, f"y_{part}")
            _validate.array(y, f"y_{part}", shape=(len(X),))      # checked; kept in its integer dtype
            d = X.shape[1]
            object.__setattr__(self, f"X_{part}", X)
            object.__setattr__(self, f"y_{part}", np.array(y))
        for name in ("mean", "std"):
            object.__setattr__(self, name, _validate.array(getattr(self, name), name, shape=(d,)))

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max(), self.y_test.max()) + 1)

    def as_tensors(self, dtype: str = "float64") -> dict[str, "object"]:
        """The six arrays as torch tensors (features in ``dtype``, one of ``"float16"``,
        ``"bfloat16"``, ``"float32"``, ``"float64"``; labels int64): copies, so changing a tensor
        leaves the split as it is."""
        import torch

        dt = getattr(torch, _validate.choice(dtype, "dtype", FLOAT_DTYPES))
        return {
            "X_train": torch.tensor(self.X_train, dtype=dt), "y_train": torch.tensor(self.y_train),
            "X_val": torch.tensor(self.X_val, dtype=dt), "y_val": torch.tensor(self.y_val),
            "X_test": torch.tensor(self.X_test, dtype=dt), "y_test": torch.tensor(self.y_test),
        }


def load_digits(*, val_size: float = 0.15, test_size: float = 0.15, standardize: bool = True, seed: int = 0) -> Split:
    """The 8×8 digits split into train/validation/test (stratified, seeded).

    Parameters
    ----------
    val_size, test_size : float
        Fractions of the 1,797 images; the rest is the training set.
    standardize : bool
        Subtract the training mean and divide by the training standard deviation, per pixel
        (pixels that are constant in training keep a scale of 1).
    seed : int
        The split's seed; the default split is the book's.

    Examples
    --------
    >>> d = load_digits()
    >>> d.X_train.shape, d.X_val.shape, d.X_test.shape, d.n_classes
    ((1257, 64), (270, 64), (270, 64), 10)
    >>> bool(abs(d.X_train.mean()) < 1e-12)
    True
    """
    val_size = _validate.probability(val_size, "val_size", allow_zero=False, allow_one=False)
    test_size = _validate.probability(test_size, "test_size", allow_zero=False, allow_one=False)
    if val_size + test_size >= 1:
        raise ValueError(f"Invalid val_size: {val_size} with test_size={test_size} (need val_size + test_size < 1)")
    standardize = _validate.flag(standardize, "standardize")
    seed = _validate.count(seed, "seed", high=2**32 - 1)
    X, y = _sk_load_digits(return_X_y=True)
    n, k = len(y), len(np.unique(y))
    n_test = math.ceil(test_size * n)               # scikit-learn's rounding, in both splits
    n_val = math.ceil(val_size / (1 - test_size) * (n - n_test))
    for part, size in (("training", n - n_test - n_val), ("validation", n_val), ("test", n_test)):
        if size < k:
            this, other = ("test_size", "val_size") if part == "test" else ("val_size", "test_size")
            sizes = {"val_size": val_size, "test_size": test_size}
            raise ValueError(f"Invalid {this}: {sizes[this]} with {other}={sizes[other]}: a {part} set of "
                             f"{size} of the {n} images (need at least {k}, one per class, in each set)")
    X = X.astype(np.float64)
    y = y.astype(np.int64)
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_size / (1 - test_size), stratify=y_rest, random_state=seed
    )
    mean = X_train.mean(axis=0) if standardize else np.zeros(X.shape[1])
    std = X_train.std(axis=0) if standardize else np.ones(X.shape[1])
    std = np.where(std > 0, std, 1.0)
    return Split(
        (X_train - mean) / std, y_train, (X_val - mean) / std, y_val, (X_test - mean) / std, y_test, mean, std
    )
