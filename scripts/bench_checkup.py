"""The cost of nbcode.checkup on the book's 112,810-parameter digits MLP (64-300-300-10 tanh, float64)
over all 1,257 training rows: seconds, passes over the data and Hessian-vector products per section,
for ``budget="fast"`` (target: under 15 s on 2 cores) and ``"full"`` (under 60 s), and the number of
products Lanczos needs for λ_max to 1e-3 relative (target: at most 20).

  python scripts/bench_checkup.py            # prints a table; --json PATH also writes it
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from nbcode.checkup import checkup  # noqa: E402
from nbcode.checkup._data import as_batches  # noqa: E402
from nbcode.checkup._guard import objective_modes  # noqa: E402
from nbcode.checkup._objective import DataHessian, Objective  # noqa: E402
from nbcode.checkup.quantity import Cost  # noqa: E402
from nbcode.data import load_digits  # noqa: E402
from nbcode.hessian import lanczos_topk  # noqa: E402
from nbcode.train import fit, mlp, seed_everything  # noqa: E402


def digits_mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    d = load_digits()
    X, y = torch.as_tensor(d.X_train), torch.as_tensor(d.y_train)
    seed_everything(0)
    net = mlp([64, 300, 300, 10], nn.Tanh)
    fit(net, torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9), X, y, epochs=2, batch_size=128, progress=False)
    return net, X, y


def lanczos_products(net: nn.Module, X: torch.Tensor, y: torch.Tensor, rtol: float = 1e-3) -> tuple[int, float]:
    """Products until the Lanczos estimate of λ_max stays within ``rtol`` of a converged reference."""
    with objective_modes(net):
        obj = Objective(net, as_batches([(X, y)], None, torch.device("cpu")), F.cross_entropy, Cost())
        ref = float(lanczos_topk(DataHessian(obj), k=1, tol=1e-9, max_iter=80, seed=1).eigenvalues[0])
        run = lanczos_topk(DataHessian(obj), k=1, tol=1e-12, max_iter=30, seed=0)
    err = np.abs(np.array(run.history) - ref) / abs(ref)
    bad = np.nonzero(err > rtol)[0]
    return (int(bad[-1] + 2) if bad.size else 1), ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--threads", type=int, default=2,
                    help="torch threads (default 2; on a busy machine 1 is faster: OpenMP threads spin when oversubscribed)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net, X, y = digits_mlp()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    n_params = sum(p.numel() for p in net.parameters())
    results: dict = {"parameters": n_params, "rows": int(X.shape[0]), "threads": torch.get_num_threads(), "budgets": {}}
    checkup(net, [(X[:64], y[:64])], F.cross_entropy, progress=False)  # imports and first-call costs
    for budget, limit in (("fast", 15.0), ("full", 60.0)):
        t = time.perf_counter()
        rep = checkup(net, loader, F.cross_entropy, opt, budget=budget, progress=False)
        total = time.perf_counter() - t
        rows = {s.key: s.cost.to_dict() for s in rep.sections}
        results["budgets"][budget] = {"seconds": total, "limit_seconds": limit, "sections": rows,
                                      "lambda_max_hvp": rep["curvature.lambda_max"].cost.hvp}
        print(f"\nbudget={budget!r}: {total:.2f} s (target < {limit:.0f} s) on {torch.get_num_threads()} threads, "
              f"{n_params:,} parameters, {X.shape[0]} rows")
        print(f"  {'section':15s} {'seconds':>8s} {'fwd passes':>11s} {'bwd passes':>11s} {'HVPs':>6s}")
        for key, c in rows.items():
            print(f"  {key:15s} {c['seconds']:8.2f} {c['forward_passes']:11.2f} {c['backward_passes']:11.2f} {c['hvp']:6d}")
    k, ref = lanczos_products(net, X, y)
    results["lanczos_products_1e-3"] = k
    print(f"\nλ_max = {ref:.6g}: Lanczos within 1e-3 relative after {k} Hessian-vector products (target ≤ 20)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
