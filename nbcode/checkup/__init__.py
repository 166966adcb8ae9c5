"""A checkup of the reader's own network: every chapter of the book applied in one call.

.. code-block:: python

    from nbcode.checkup import checkup
    report = checkup(model, loader, loss_fn, optimizer=None, budget="fast")   # or "full"
    report                      # rich HTML in Jupyter
    report.to_dict()            # every quantity: value, error, prediction, verdict, cost, section
    report.save_html("checkup.html")   # one self-contained offline file
    monitor = checkup.Monitor(model, loader, loss_fn, optimizer)   # during training

Sections: initialization (loss at the start, per-layer variances, dead and saturated units),
curvature (λ_max, λ_min, trace, spectral density), learning rate (stability limits of SGD, heavy
ball, Nesterov and Adam; a range test), noise (B_simple, mini-batch variance against tr Σ/B, the
noise floor) and normalization (⟨W, ∇_W L⟩ = 0, the effective learning rate); :class:`Monitor`
follows sharpness against the stability limit, update-to-weight ratios and gradient norms during
training.

The model, the optimizer and the global random generators are left exactly as they were.
"""

from nbcode.checkup.core import BUDGETS, checkup
from nbcode.checkup.monitor import Monitor
from nbcode.checkup.quantity import BOOK, Cost, Link, Quantity
from nbcode.checkup.report import Report, Section

checkup.Monitor = Monitor  # type: ignore[attr-defined]

__all__ = ["checkup", "Monitor", "Report", "Section", "Quantity", "Cost", "Link", "BOOK", "BUDGETS"]
