"""nbcode.experiments.optim: the race on the registry's surfaces, the batch-size study, the digits race."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode.experiments import optim as ex

# torch.func compiles its decompositions with torch.jit.script, which warns in this torch version
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def test_race_surfaces_come_from_the_registry() -> None:
    """The race's four surfaces are registry entries (one definition each); the race's 'saddle'
    is the double well, with its two minima, and the torch expressions agree with their values."""
    from nbcode.surfaces import get_surface

    assert list(ex.RACE_SURFACES) == ["Beale", "long valley", "saddle", "Rosenbrock"]
    assert ex.RACE_SURFACES["saddle"].minima == get_surface("double well").minima == ((0.0, 1.0), (0.0, -1.0))
    assert ex.RACE_SURFACES["Beale"].value is get_surface("beale").value
    torch_f = {
        "Beale": lambda w: sum((c - w[0] + w[0] * w[1] ** (i + 1)) ** 2 for i, c in enumerate((1.5, 2.25, 2.625))),
        "saddle": lambda w: 0.5 * w[0] ** 2 - 0.5 * w[1] ** 2 + 0.25 * w[1] ** 4,
        "Rosenbrock": lambda w: (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2,
    }
    rng = np.random.default_rng(2)
    for name, f in torch_f.items():
        s = ex.RACE_SURFACES[name]
        for w in rng.uniform(-1.5, 1.5, size=(5, 2)):
            np.testing.assert_allclose(s(w), float(f(torch.tensor(w))), rtol=1e-12)
    A = ex.RACE_SURFACES["long valley"].hess([0.0, 0.0])
    np.testing.assert_allclose(sorted(np.linalg.eigvalsh(A)), [0.1, 10.0])


def test_race_table_ranks() -> None:
    t = ex.race_table(steps=200)
    assert t["Rosenbrock"]["L-BFGS"] < 1e-10 and t["Rosenbrock"]["SGD"] > 1.0
    assert t["saddle"]["Newton"] == 0.0  # converged to the saddle point
    assert all(v == pytest.approx(-0.25, abs=1e-6) for k, v in t["saddle"].items() if k != "Newton")
    assert t["long valley"]["momentum"] < t["long valley"]["SGD"] / 100


def test_race_diverges_into_nan_and_refuses_bad_names() -> None:
    paths = ex.race("long valley", 3.0, 200)  # 3x SGD's rate: 0.45 > 2 / lam_max = 0.2
    assert np.isnan(paths["SGD"][-1]).all() and np.isfinite(paths["SGD"][0]).all()
    first_nan = int(np.argmax(np.isnan(paths["SGD"][:, 0])))
    assert np.linalg.norm(paths["SGD"][first_nan - 1]) <= ex.RACE_MAX_NORM  # the rule: NaN from the first step outside
    assert np.isfinite(paths["Adam"][-1]).all()
    with pytest.raises(ValueError, match="Invalid surface"):
        ex.race("Himmelblau")
    with pytest.raises(ValueError, match="Invalid optimizer name"):
        ex.race_optimizer("Shampoo", ex.RACE_SURFACES["saddle"], 0.1)


def test_batch_size_study_as_in_the_notebook() -> None:
    """The chapter's numbers: every run reaches the target; the smallest batch ends flattest, and
    test accuracies stay within 0.01 of each other (no Keskar gap at this scale)."""
    torch.set_num_threads(1)
    runs = ex.batch_size_study((16, 64, 256, 1257), lr=0.2, target_loss=0.02)
    assert all(r.history["train_loss"][-1] < 0.02 and r.train_acc > 0.99 for r in runs)
    sharp = [r.sharpness for r in runs]
    assert sharp[0] < min(sharp[1:]) * 0.95
    assert max(r.test_acc for r in runs) - min(r.test_acc for r in runs) < 0.01
    steps = [r.steps for r in runs]
    assert max(steps) < 1.2 * min(steps)  # same lr: about the same number of updates for every B
    assert [r.epochs for r in runs] == sorted(r.epochs for r in runs)


def test_digits_race_trains_every_optimizer() -> None:
    h = ex.digits_race(epochs=2, batch_size=64, hidden=16)
    for name, hist in h.items():
        assert hist["train_loss"][-1] < hist["train_loss"][0], name
        assert not hist.diverged
    # the same initial weights for everyone: identical loss before training
    assert len({round(v["train_loss"][0], 12) for v in h.values()}) == 1
