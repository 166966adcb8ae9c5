"""Issue #16, group D (regularize, landscape, data): one test per message format introduced at the
door, and the inputs the battery does not try (a grad callback of the wrong shape, a history
without the monitored key, the dtype of augmented labels, NaN through dropout as in torch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode import regularize as reg
from nbcode.train import History


# ---------------------------------------------------------------- penalties and linear models
def test_proximal_steps_and_noise_name_their_argument() -> None:
    with pytest.raises(ValueError, match=r"Invalid t: -1.0 \(need t >= 0\)"):
        reg.prox_l2([1.0], -1.0)
    with pytest.raises(TypeError, match=r"Invalid t: '0.5' \(need a real number\)"):
        reg.prox_elastic_net([1.0], "0.5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid sigma: -0.5 \(need sigma >= 0\)"):
        reg.noisy_least_squares(np.eye(2), [1.0, 1.0], -0.5)
    with pytest.raises(ValueError, match=r"Invalid seed: -1 \(need seed >= 0\)"):
        reg.noisy_least_squares(np.eye(2), [1.0, 1.0], 0.5, seed=-1)


def test_l2_optimum_refuses_a_non_symmetric_hessian_instead_of_reading_one_triangle() -> None:
    with pytest.raises(ValueError, match=r"Invalid H: it is not symmetric"):
        reg.l2_optimum([[2.0, 1.0], [0.0, 3.0]], [1.0, 1.0], 0.5)
    with pytest.raises(ValueError, match=r"Invalid shape of w_star: \(3,\) \(need \(2,\)\)"):
        reg.l2_optimum(np.eye(2), [1.0, 1.0, 1.0], 0.5)
    with pytest.raises(ValueError, match=r"Invalid lams: \[1.0, -1.0\] \(need eigenvalues > 0\)"):
        reg.l1_optimum_diagonal([1.0, -1.0], [1.0, 1.0], 0.5)
    with pytest.raises(ValueError, match=r"Invalid shape of w_star: \(1,\) \(need \(2,\)\)"):
        reg.l1_optimum_diagonal([1.0, 2.0], [1.0], 0.5)


def test_descent_paths_check_lr_and_steps() -> None:
    X, y = np.eye(2), np.ones(2)
    with pytest.raises(TypeError, match=r"Invalid steps: 2.0 \(need an integer\)"):
        reg.ista(X, y, 0.1, steps=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid learning rate: 0.0 \(need lr > 0\)"):
        reg.ista(X, y, 0.1, lr=0.0)
    with pytest.raises(ValueError, match=r"Invalid X: X\^T X / n is zero"):
        reg.ista(np.zeros((2, 2)), y, 0.1)
    with pytest.raises(ValueError, match=r"Invalid steps: -1 \(need steps >= 0\)"):
        reg.subgradient_descent(X, y, 0.1, lr=0.1, steps=-1)
    with pytest.raises(ValueError, match=r"Invalid learning rate: inf"):
        reg.subgradient_descent(X, y, 0.1, lr=float("inf"))
    with pytest.raises(ValueError, match=r"Invalid shape of X: \(2,\) \(need 2 dimensions\)"):
        reg.lipschitz([1.0, 2.0])


# ---------------------------------------------------------------- dropout
def test_dropout_mask_takes_numpy_shapes() -> None:
    np.testing.assert_array_equal(reg.dropout_mask(np.array([3, 4]), 0.5, seed=1), reg.dropout_mask((3, 4), 0.5, seed=1))
    np.testing.assert_array_equal(reg.dropout_mask(np.int64(5), 0.5, seed=1), reg.dropout_mask((5,), 0.5, seed=1))
    assert np.shape(reg.dropout_mask((), 0.5, seed=1)) == ()
    with pytest.raises(ValueError, match=r"Invalid shape: \[3, -1\] \(need integers >= 0\)"):
        reg.dropout_mask([3, -1], 0.5)
    with pytest.raises(TypeError, match=r"Invalid shape: \(3, 2.0\) \(need integers\)"):
        reg.dropout_mask((3, 2.0), 0.5)  # type: ignore[arg-type]


def test_dropout_propagates_nan_as_torch_does() -> None:
    x = np.array([[1.0, np.nan, 2.0, 4.0]])
    ours = reg.dropout(x, 0.5, seed=0)
    theirs = torch.nn.functional.dropout(torch.tensor(x), 0.5).numpy()
    assert np.isnan(ours[0, 1]) and np.isnan(theirs[0, 1])  # NaN times a 0 or 2 is NaN in both


def test_mask_average_names_x_when_there_are_too_many_units() -> None:
    with pytest.raises(ValueError, match=r"Invalid shape of x: \(17,\) \(need at most 16 units"):
        reg.mask_average(np.tanh, np.ones(17), 0.5)


# ---------------------------------------------------------------- early stopping
def test_early_stopping_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match=r"Invalid model: 'net' \(need a torch.nn.Module\)"):
        reg.EarlyStopping("net")
    with pytest.raises(ValueError, match=r"Invalid min_delta: -0.1 \(need min_delta >= 0\)"):
        reg.EarlyStopping(min_delta=-0.1)
    with pytest.raises(TypeError, match=r"Invalid monitor: 3 \(need a string\)"):
        reg.EarlyStopping(monitor=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid restore_best: 'yes' \(need True or False\)"):
        reg.EarlyStopping(restore_best="yes")  # type: ignore[arg-type]
    es = reg.EarlyStopping(monitor="val_acc")
    h = History()
    h.log(val_loss=1.0)
    with pytest.raises(ValueError, match=r"Invalid history: it has no 'val_acc' entry"):
        es(1, h)
    with pytest.raises(TypeError, match=r"Invalid history: None \(need a History"):
        reg.EarlyStopping()(1, None)
    with pytest.raises(ValueError, match=r"Invalid history: its 'val_loss' entry is \[\]"):
        reg.EarlyStopping()(1, {"val_loss": []})
    with pytest.raises(TypeError, match=r"Invalid epoch: 1.5 \(need an integer\)"):
        reg.EarlyStopping()(1.5, h)  # type: ignore[arg-type]
    assert reg.EarlyStopping(patience=1)(1, {"val_loss": [1.0, 2.0]}) is True  # a dict of lists works too


def test_early_stopping_factors_check_lams_lr_and_steps() -> None:
    with pytest.raises(ValueError, match=r"Invalid shape of lams: \(2, 1\) \(need \(n,\)\)"):
        reg.gd_quadratic_factors(np.ones((2, 1)), 0.1, 3)
    with pytest.raises(TypeError, match=r"Invalid steps: 2.5 \(need an integer\)"):
        reg.matching_alpha([1.0, 2.0], 0.1, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid learning rate: -0.1 \(need lr > 0\)"):
        reg.gd_quadratic_factors([1.0], -0.1, 3)
    np.testing.assert_array_equal(reg.gd_quadratic_factors([1.0], 0.5, np.int64(2)), [0.75])


# ---------------------------------------------------------------- callbacks of the wrong shape
def test_descents_refuse_a_gradient_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"Invalid grad: it returned shape \(\) at a point of shape \(2,\)"):
        reg.clipped_descent(lambda w: float(w.sum()), [1.0, 2.0], 0.1, 3)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match=r"Invalid grad: it returned shape \(3,\) at a point of shape \(2,\)"):
        reg.weight_noise_descent(lambda w: np.ones(3), [1.0, 2.0], 0.1, 3, 0.1)
    with pytest.raises(ValueError, match=r"Invalid shape of w0: \(2, 1\) \(need \(n,\)\)"):
        reg.clipped_descent(lambda w: w, np.ones((2, 1)), 0.1, 3)


# ---------------------------------------------------------------- augmentation
def test_shifts_and_images_are_checked() -> None:
    X = np.zeros((2, 64))
    with pytest.raises(ValueError, match=r"Invalid shape of X: \(2, 63\) \(need \(n, 64\): flattened 8x8 images\)"):
        reg.shift_images(np.zeros((2, 63)), 1, 0)
    with pytest.raises(TypeError, match=r"Invalid dy: 1.0 \(need an integer\)"):
        reg.shift_images(X, 1, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid fill: nan \(need a finite number\)"):
        reg.shift_images(X, 1, 0, fill=float("nan"))
    with pytest.raises(ValueError, match=r"Invalid side: 0 \(need side >= 1\)"):
        reg.shift_images(X, 1, 0, side=0)
    with pytest.raises(TypeError, match=r"Invalid shifts: \[\(0.5, 0\)\] \(need a sequence of \(dx, dy\) pairs"):
        reg.augment_shifts(X, [0, 1], [(0.5, 0)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"Invalid shifts: \[\(1, 0, 0\)\]"):
        reg.augment_shifts(X, [0, 1], [(1, 0, 0)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"Invalid shifts: \[\(9, 0\)\] \(need .* \|dx\|, \|dy\| < 8\)"):
        reg.augment_shifts(X, [0, 1], [(9, 0)])
    with pytest.raises(ValueError, match=r"Invalid y: it contains NaN or infinity"):
        reg.augment_shifts(X, [0.0, np.nan])


def test_augmented_labels_keep_their_dtype() -> None:
    _, ya = reg.augment_shifts(np.zeros((2, 64)), np.array([3, 5]), [(1, 0)])
    assert ya.dtype == np.int64 and ya.tolist() == [3, 5, 3, 5]
    _, yl = reg.augment_shifts(np.zeros((2, 64)), [3, 5], np.array([[1, 0]]))
    assert yl.tolist() == [3, 5, 3, 5]


# ---------------------------------------------------------------- labels
def test_labels_are_integer_class_indices_as_in_torch() -> None:
    with pytest.raises(TypeError, match=r"Invalid y: \[0.0, 1.0\] \(need integer class labels"):
        reg.smoothed_targets([0.0, 1.0], 3, 0.1)
    with pytest.raises(ValueError, match=r"Invalid shape of y: \(0,\) \(need a non-empty 1-D array\)"):
        reg.smoothed_targets(np.array([], dtype=np.int64), 3, 0.1)
    with pytest.raises(ValueError, match=r"Invalid shape of y: \(1,\) \(need shape \(2,\), one label per row of logits\)"):
        reg.label_smoothing_cross_entropy(np.zeros((2, 3)), [0], 0.1)
    with pytest.raises(TypeError, match=r"Invalid y: \[0, 'a'\]"):
        reg.smoothed_targets([0, "a"], 3, 0.1)
