"""Issue #16, second round (group S): defects an independent audit found in sweep, plot, exercises."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nbcode.exercises import ChoiceAnswer, check, get


def _soft(z: np.ndarray, t: float) -> np.ndarray:
    return np.sign(z) * np.maximum(np.abs(z) - t, 0)


# --- 1. exercises: wrong answers judged wrong, the stored cases untouched ---------------------

def test_complex_function_result_is_wrong() -> None:
    v = check("regularization.soft_threshold", lambda z, t: _soft(z, t) + 5j)
    assert not v and "complex" in v.message


@pytest.mark.parametrize("answer", ["0.25", b"0.25"])
def test_string_number_answer_is_wrong(answer: object) -> None:
    v = check("intro.eta_opt", answer)
    assert not v and "give a number, not a string" in v.message.lower()


def test_string_pair_is_wrong() -> None:
    assert not check("norm.keras_port", ("0.01", "1e-3"))
    assert check("norm.keras_port", (1 - 0.99, 1e-3))


def test_complex_and_bool_number_answers_are_wrong() -> None:
    assert "complex" in check("intro.eta_opt", np.complex128(0.25 + 1j)).message
    assert "complex" in check("intro.eta_opt", 0.25 + 0j).message
    assert not check("intro.eta_max", True)


def test_huge_int_is_not_finite() -> None:
    v = check("intro.eta_opt", 10**400)
    assert not v and "finite" in v.message


def test_tensor_answers_are_judged() -> None:
    wrong = check("regularization.soft_threshold", lambda z, t: torch.tensor(z, requires_grad=True) * 1)
    assert not wrong and "expected" in wrong.message
    right = check("regularization.soft_threshold", lambda z, t: torch.tensor(_soft(z, t), requires_grad=True) * 1)
    assert right
    assert check("intro.eta_opt", torch.tensor(0.25, requires_grad=True))


def test_in_place_function_does_not_corrupt_cases() -> None:
    ex = get("regularization.soft_threshold")
    before = [tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in c) for c in ex.judge.cases]  # type: ignore[attr-defined]

    def f(z: np.ndarray, t: float) -> np.ndarray:
        np.clip(z, -t, t, out=z)
        return z * 0

    assert not check("regularization.soft_threshold", f)
    for old, new in zip(before, ex.judge.cases):  # type: ignore[attr-defined]
        for a, b in zip(old, new):
            np.testing.assert_array_equal(a, b)
    assert check("regularization.soft_threshold", _soft)
    assert "array([ 3. ,  0.5, -2. ])" in check("regularization.soft_threshold", lambda z, t: z * 0).message


def test_choice_answer_with_array_is_not_an_option() -> None:
    ok, detail = ChoiceAnswer(2, [1, 2, 3])(np.array([2, 3]))
    assert not ok and "one of" in detail
    assert ChoiceAnswer(2, [1, 2, 3])(np.int64(2))[0]
