"""Auto-checked exercises: a chapter poses a question, a reader calls :func:`check`.

An :class:`Exercise` knows how to judge an answer: a number (with a tolerance), a choice, or
code (a function the reader writes, run on test cases against a reference). Chapters register
their exercises in a module of this package; the notebook shows the question, the reader
writes an answer in a code cell and calls ``check("chapter.name", answer)``, which prints a
verdict and, when the answer is wrong, a hint. Worked solutions live in folded cells of the
notebook, where they also call ``check`` (so the regression tests prove that the reference
solution passes).
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from nbcode import _validate

__all__ = ["Exercise", "Verdict", "register", "check", "get", "registry", "NumberAnswer", "FunctionAnswer", "ChoiceAnswer"]


@dataclass(frozen=True)
class Verdict:
    """The result of a check: right or wrong, and what to tell the reader."""

    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return ("Correct. " if self.correct else "Not yet. ") + self.message


class NumberAnswer:
    """Right when the answer is within ``rtol``/``atol`` of ``value``."""

    def __init__(self, value: float, *, rtol: float = 1e-3, atol: float = 0.0) -> None:
        value = _validate.real(value, "value")
        for name, tol in (("rtol", rtol), ("atol", atol)):
            _validate.real(tol, name)
            if tol < 0:
                raise ValueError(f"Invalid tolerance: rtol={rtol}, atol={atol} (need {name} >= 0)")
        self.value, self.rtol, self.atol = value, rtol, atol

    def __call__(self, answer: Any) -> tuple[bool, str]:
        x, problem = _as_number(answer)
        if x is None:
            return False, problem
        ok = math.isclose(x, self.value, rel_tol=self.rtol, abs_tol=self.atol)
        return ok, "" if ok else "the number is not right"


def _as_number(answer: Any) -> tuple[float | None, str]:
    """``(float(answer), "")`` for a finite real number, else ``(None, what is wrong)``.

    Strings, booleans and complex numbers are not number answers (``float("0.25")`` would
    parse one, ``float(np.complex128(...))`` would drop the imaginary part).

    Examples
    --------
    >>> _as_number(0.25)
    (0.25, '')
    >>> _as_number("0.25")
    (None, 'give a number, not a string')
    >>> _as_number(10**400)
    (None, 'expected a finite number, got an integer too large for a float')
    """
    if isinstance(answer, (str, bytes, bytearray)):
        return None, "give a number, not a string"
    if isinstance(answer, (bool, np.bool_)):
        return None, "give a number, not True/False"
    if _is_complex(answer):
        return None, f"expected a real number, got a complex number ({type(answer).__name__})"
    if type(answer).__module__.startswith("torch") and hasattr(answer, "detach"):
        answer = answer.detach()  # a tensor that requires grad: judge its value
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            x = float(answer)
    except np.exceptions.ComplexWarning:
        return None, f"expected a real number, got a complex number ({type(answer).__name__})"
    except OverflowError:
        return None, "expected a finite number, got an integer too large for a float"
    except Exception:  # TypeError, ValueError, torch's RuntimeError for a tensor of several elements, ...
        return None, f"expected a number, got {type(answer).__name__}"
    if not math.isfinite(x):
        return None, f"expected a finite number, got {x}"
    return x, ""


def _is_complex(x: Any) -> bool:
    """Whether ``x`` is a complex scalar or an array/tensor of complex dtype (never raises)."""
    if isinstance(x, (complex, np.complexfloating)):
        return True
    is_complex = getattr(x, "is_complex", None)  # torch.Tensor
    if callable(is_complex) and type(x).__module__.startswith("torch"):
        try:
            return bool(is_complex())
        except Exception:
            return False
    dtype = getattr(x, "dtype", None)
    return isinstance(dtype, np.dtype) and dtype.kind == "c"


def _same(a: Any, b: Any) -> bool:
    """``a == b`` as one truth value; False when the comparison is not a single bool (arrays)."""
    try:
        eq = a == b
        return bool(eq) if isinstance(eq, (bool, np.bool_)) else False
    except Exception:
        return False


def _as_array(x: Any) -> np.ndarray:
    """``x`` as a float64 array; a torch tensor is detached first (raises for what is not numbers)."""
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if _is_complex(x):
        raise TypeError("complex")
    return np.asarray(x, dtype=float)


class ChoiceAnswer:
    """Right when the answer equals ``value`` (strings compared case- and space-insensitively)."""

    def __init__(self, value: Any, options: Sequence[Any]) -> None:
        if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or not options:
            raise TypeError(f"Invalid options: {_validate.show(options)} (need a non-empty list of options)")
        if not any(_same(value, o) for o in options):
            raise ValueError(f"Invalid choice answer: value={value!r} is not among the options {list(options)}")
        self.value, self.options = value, list(options)

    def __call__(self, answer: Any) -> tuple[bool, str]:
        norm = (lambda a: a.strip().lower()) if isinstance(self.value, str) else (lambda a: a)
        if isinstance(self.value, str) and not isinstance(answer, str):
            return False, f"answer with one of {self.options}"
        if not any(_same(norm(answer), norm(o)) for o in self.options):
            return False, f"answer with one of {self.options}"
        ok = _same(norm(answer), norm(self.value))
        return ok, "" if ok else "that is not the right option"


class FunctionAnswer:
    """Right when the reader's function matches ``reference`` on every test case.

    ``cases`` is a list of argument tuples; outputs must have the reference's shape and are
    compared with ``numpy.allclose``.
    """

    def __init__(self, reference: Callable[..., Any], cases: Sequence[tuple[Any, ...]], *, rtol: float = 1e-6, atol: float = 1e-9) -> None:
        _validate.function(reference, "reference")
        if isinstance(cases, (str, bytes)) or not isinstance(cases, Sequence) or not all(isinstance(c, tuple) for c in cases):
            raise TypeError(f"Invalid cases: {_validate.show(cases)} (need a list of argument tuples)")
        if not cases:
            raise ValueError("Invalid cases: a FunctionAnswer needs at least one test case")
        for name, tol in (("rtol", rtol), ("atol", atol)):
            _validate.real(tol, name, low=0)
        self.reference, self.cases, self.rtol, self.atol = reference, list(cases), rtol, atol

    def __call__(self, answer: Any) -> tuple[bool, str]:
        if not callable(answer):
            return False, f"expected a function, got {type(answer).__name__}"
        for args in self.cases:
            # copies: a function that writes into its input must not change the stored case
            want = self.reference(*_copy(args))
            try:
                got = answer(*_copy(args))
            except Exception as e:  # the reader's code may fail in any way; report it
                return False, f"your function raised {type(e).__name__}: {e} for input {_short(args)}"
            if got is None:  # the unanswered stub: say what to do, not what the answer is
                return False, (f"your function returned None for input {_short(args)}: write its body in place "
                               "of `...` and return the result")
            shapes = _shapes(got, want)
            if got is not None and shapes is not None and shapes[0] != shapes[1]:
                # np.allclose broadcasts: a row (1, n) would match a vector (n,)
                return False, f"for input {_short(args)} it returned shape {shapes[0]}, expected shape {shapes[1]}"
            if _is_complex(got) and not _is_complex(want):
                return False, f"for input {_short(args)} it returned complex values {_short(got)}, expected real ones {_short(want)}"
            try:
                same = got is not None and np.allclose(_as_array(got), _as_array(want), rtol=self.rtol, atol=self.atol)
            except Exception:  # not numbers (objects, ragged lists, a too large int, ...)
                same = False
            if not same:
                return False, f"for input {_short(args)} it returned {_short(got)}, expected {_short(want)}"
        return True, f"passed all {len(self.cases)} test cases"


def _copy(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A deep copy of a test case's arguments (a function that writes into its input must not
    change the stored case); the case itself if it cannot be copied."""
    try:
        return copy.deepcopy(args)
    except Exception:
        return args


def _shapes(got: Any, want: Any) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The shapes of the two results as arrays, or None when one has none (ragged, objects)."""
    try:
        return tuple(np.shape(got)), tuple(np.shape(want))
    except (TypeError, ValueError):
        return None


def _short(x: Any) -> str:
    s = np.array2string(np.asarray(x), precision=4, threshold=6) if isinstance(x, np.ndarray) else repr(x)
    return s if len(s) < 80 else s[:77] + "..."


@dataclass
class Exercise:
    """An exercise with a judge and a hint.

    Parameters
    ----------
    key : str
        ``"chapter.name"``, unique in the book.
    question : str
        One line that names the task (the notebook states it in full).
    judge : callable
        ``judge(answer) -> (correct, detail)``: a :class:`NumberAnswer`, :class:`ChoiceAnswer`,
        :class:`FunctionAnswer` or any function of that shape.
    hint : str
        Shown with a wrong answer.
    """

    key: str
    question: str
    judge: Callable[[Any], tuple[bool, str]]
    hint: str = ""
    tags: list[str] = field(default_factory=list)

    def check(self, answer: Any) -> Verdict:
        if answer is None or answer is Ellipsis:
            return Verdict(False, "Write your answer in place of `...` first.")
        ok, detail = self.judge(answer)
        if ok:
            return Verdict(True, (detail[:1].upper() + detail[1:] + ".") if detail else "Well done.")
        msg = detail[:1].upper() + detail[1:] + "." if detail else ""
        if self.hint:
            msg = (msg + " " if msg else "") + "Hint: " + self.hint
        return Verdict(False, msg)


_REGISTRY: dict[str, Exercise] = {}


def register(ex: Exercise) -> Exercise:
    """Add ``ex`` to the book's registry (keys must be unique)."""
    if not isinstance(ex, Exercise):
        raise TypeError(f"Invalid ex: {_validate.show(ex)} (need an Exercise)")
    _validate.text(ex.key, "exercise key")
    if "." not in ex.key:
        raise ValueError(f"Invalid exercise key: {ex.key!r} (use 'chapter.name')")
    if ex.key in _REGISTRY and _REGISTRY[ex.key] is not ex:
        raise ValueError(f"Exercise {ex.key!r} is already registered")
    _REGISTRY[ex.key] = ex
    return ex


def registry() -> dict[str, Exercise]:
    """All registered exercises, by key (importing every chapter's module first)."""
    from nbcode.exercises import _load_all

    _load_all()
    return dict(_REGISTRY)


def get(key: str) -> Exercise:
    """The exercise called ``key``."""
    _validate.text(key, "key")
    ex = registry().get(key)
    if ex is None:
        raise ValueError(f"Invalid key: {key!r} (no exercise of that name; nbcode.exercises.registry() lists them)")
    return ex


def check(key: str, answer: Any) -> Verdict:
    """Judge ``answer`` to exercise ``key``; returns a :class:`Verdict` that prints as a sentence.

    Examples
    --------
    >>> check("intro.eta_opt", 0.25)
    Correct. Well done.
    >>> check("intro.eta_opt", ...)
    Not yet. Write your answer in place of `...` first.
    """
    return get(key).check(answer)
