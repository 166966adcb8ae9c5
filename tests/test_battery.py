"""Every public callable of nbcode against a battery of bad and edge inputs (scripts/battery.py).

One test per entry point (an optimizer factory's ``init``/``update``, a schedule and a plateau
rule are tested with their factory). A test fails on any outcome ``unclear`` (an error that names
no argument, or an error from inside NumPy/torch), ``silent`` (a bad input accepted, a NaN result,
a valid input giving another result, an object that keeps the caller's array), ``crash`` (a call
that hangs) or ``refused`` (a valid input refused), and on an entry point without a baseline call
(a new public function needs its line in ``battery.SPECS``), unless the defect is listed in
``tests/battery_known.txt``; it also fails when a listed defect is gone (delete its line).

By default each argument gets its first bad input and about a third of the others (a fixed,
deterministic choice), so that the whole file runs in about 20 s; ``NBCODE_BATTERY=full`` runs
every input (about a minute). ``python scripts/battery.py`` runs the whole battery in worker
processes and prints the table of outcomes.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("nbcode_battery", ROOT / "scripts" / "battery.py")
assert _spec is not None and _spec.loader is not None
battery: Any = importlib.util.module_from_spec(_spec)
sys.modules["nbcode_battery"] = battery
_spec.loader.exec_module(battery)

pytestmark = pytest.mark.filterwarnings("ignore")

FULL = os.environ.get("NBCODE_BATTERY") == "full"
CALL_LIMIT_S = 30
KNOWN = battery.load_known()
_RUNNER: Any = None


def runner() -> Any:
    global _RUNNER
    if _RUNNER is None:
        _RUNNER = battery.Runner()
    return _RUNNER


def _names() -> list[str]:
    entries, _ = battery.entries()
    return [e.name for e in entries]


class _Hang(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Hang(f"the call took more than {CALL_LIMIT_S} s")


def _chosen(entry: Any, cases: list[Any]) -> list[Any]:
    """Every case (full), or the first bad input of each argument and a fixed third of the rest."""
    if FULL:
        return cases
    out, first_bad = [], set()
    for c in cases:
        if c.role == "bad" and c.param not in first_bad:
            first_bad.add(c.param)
            out.append(c)
        elif entry.spec.heavy and c.role != "bad":
            continue
        elif zlib.crc32(f"{entry.name}|{c.param}|{c.label}".encode()) % 3 == 0:
            out.append(c)
    return out


def _run(r: Any, e: Any, case: Any) -> Any:
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(CALL_LIMIT_S)
    try:
        o = r.run(e, case)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if "_Hang" in o.detail:
        o.outcome = "crash"
    return o


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    """Tiny calls on one torch thread (several threads only add overhead here, and contention
    on a busy machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("name", _names())
def test_battery(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a battered file name (a str for a path) lands here, not in the checkout
    r = runner()
    e = r.by_name[name]
    ok, _, msg, _ = r.baseline(e)  # also registers what a factory returns (optimizer init/update, ...)
    outcomes = []
    if not ok:
        outcomes.append(battery.Outcome(name, "", "baseline", "baseline", "baseline", msg))
    else:
        for entry in [e] + [d for d in r.entries if d.kind == "derived" and d.name.startswith(name + "(")]:
            d_ok, _, d_msg, _ = r.baseline(entry)
            if not d_ok:
                outcomes.append(battery.Outcome(entry.name, "", "baseline", "baseline", "baseline", d_msg))
                continue
            for case in _chosen(entry, r.cases(entry)):
                outcomes.append(_run(r, entry, case))
    import matplotlib.pyplot as plt

    plt.close("all")
    new = [o for o in outcomes if o.outcome in (*battery.DEFECTS, "baseline") and o.role != "skip"
           and battery.key(o) not in KNOWN and not battery.allowed(o)]
    ran = {(o.entry, o.param, o.label): o for o in outcomes}
    gone = []
    for k in KNOWN:
        entry_name, param, label, outcome = [s.strip() for s in k.split("|")]
        o = ran.get((entry_name, param if label != "baseline" else "", label))
        if o is not None and o.outcome != outcome:
            gone.append(f"{k}  (now {o.outcome})")
    lines = []
    for o in new:
        if o.role == "baseline":
            lines.append(f"{o.entry}: no baseline call ({o.detail}); add its arguments to battery.SPECS")
        else:
            lines.append(f"{o.entry}({o.param}=<{o.label}>) [{o.role} input]: {o.outcome}: {o.detail}")
    lines += [f"fixed, delete this line from tests/battery_known.txt: {g}" for g in gone]
    assert not lines, f"{len(lines)} defect(s):\n" + "\n".join(lines)
