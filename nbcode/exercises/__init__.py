"""Auto-checked exercises. A reader calls ``check("chapter.name", answer)``.

Each chapter registers its exercises in a module of this package named after the chapter's
topic; :func:`_load_all` imports them all so that keys resolve from anywhere.
"""

from __future__ import annotations

import importlib
import pkgutil

from nbcode.exercises.core import (
    ChoiceAnswer,
    Exercise,
    FunctionAnswer,
    NumberAnswer,
    Verdict,
    check,
    get,
    register,
    registry,
)

__all__ = ["check", "get", "registry", "register", "Exercise", "Verdict", "NumberAnswer", "ChoiceAnswer", "FunctionAnswer"]


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if mod.name != "core":
            importlib.import_module(f"{__name__}.{mod.name}")
