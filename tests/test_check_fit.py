"""nbcode._torch.check_fit: data that does not fit a model is refused by name; nothing changes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nbcode._torch import check_fit


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 2)).double()


def test_a_fitting_batch_passes_and_nothing_changes() -> None:
    net = _net()
    net.train()
    net[1].eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    X, y = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1])
    rng = torch.get_rng_state()
    check_fit(net, X, y, nn.functional.cross_entropy)
    assert [m.training for m in net.modules()] == [True, True, False, True, True]
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


@pytest.mark.parametrize("X, y, loss, err, match", [
    (torch.randn(5, 3), None, None, TypeError, r"Invalid X: dtype torch.float32 \(the model's parameters are torch.float64"),
    (torch.randn(5, 4, dtype=torch.float64), None, None, ValueError, r"Invalid X: the model cannot take it"),
    (torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1]), None, ValueError, r"Invalid y: labels 0 \.\. 2"),
    (torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 1, dtype=torch.float64), None, ValueError,
     r"Invalid shape of y: \(5, 1\)"),
    (torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64), nn.MSELoss(reduction="none"),
     TypeError, r"Invalid loss_fn: it returned \(2, 2\)"),
    (torch.randn(5, 3, dtype=torch.float64), torch.randn(5, dtype=torch.float64), nn.functional.mse_loss, ValueError,
     r"Invalid y: shape \(5,\) for model outputs of shape \(5, 2\) \(the loss would broadcast"),
    (torch.randn(5, 3, dtype=torch.float64), torch.tensor([0.5, 1, 1, 0, 1], dtype=torch.float64),
     nn.functional.cross_entropy, ValueError, r"Invalid y: the loss cannot take it"),
])
def test_data_that_does_not_fit_is_refused_by_name(X, y, loss, err, match) -> None:  # type: ignore[no-untyped-def]
    net = _net()
    with pytest.raises(err, match=match):
        check_fit(net, X, y, loss)
    assert all(m.training for m in net.modules())
