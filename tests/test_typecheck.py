"""mypy over nbcode, with the settings in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[1]


def test_nbcode_type_checks() -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--no-incremental", str(ROOT / "nbcode")])
    assert status == 0, out + err
