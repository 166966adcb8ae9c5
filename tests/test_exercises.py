"""The exercise mechanism, and every exercise of the book: its reference passes, a wrong answer fails."""

from __future__ import annotations

import numpy as np
import pytest

from nbcode.exercises import ChoiceAnswer, Exercise, FunctionAnswer, NumberAnswer, check, get, register, registry


def test_number_answer() -> None:
    judge = NumberAnswer(0.25, rtol=1e-3)
    assert judge(0.25)[0] and judge(np.float64(0.2501))[0]
    assert not judge(0.26)[0]
    assert judge("x") == (False, "give a number, not a string")
    assert not judge(float("nan"))[0]
    with pytest.raises(ValueError, match="Invalid tolerance"):
        NumberAnswer(1.0, rtol=-1)


def test_choice_answer() -> None:
    judge = ChoiceAnswer("saddle", ["minimum", "saddle", "maximum"])
    assert judge(" Saddle ")[0] and not judge("minimum")[0]
    assert judge("valley") == (False, "answer with one of ['minimum', 'saddle', 'maximum']")
    with pytest.raises(ValueError, match="Invalid choice answer"):
        ChoiceAnswer("x", ["a"])


def test_function_answer_reports_the_failing_case() -> None:
    judge = FunctionAnswer(lambda x: x**2, [(1.0,), (3.0,)])
    assert judge(lambda x: x * x) == (True, "passed all 2 test cases")
    ok, msg = judge(lambda x: x * 3)
    assert (ok, msg) == (False, "for input (1.0,) it returned 3.0, expected 1.0")
    ok, msg = judge(lambda x: 1 / 0)
    assert not ok and "ZeroDivisionError" in msg
    assert judge(5) == (False, "expected a function, got int")


def test_an_unanswered_stub_is_not_shown_the_answer() -> None:
    ok, why = FunctionAnswer(lambda x: np.array([x, 2.0 * x]), [(3.0,)])(lambda x: None)
    assert not ok and "returned None" in why and "6" not in why.replace("input 3.0", "")


def test_verdicts_read_as_sentences() -> None:
    assert repr(check("intro.eta_opt", 0.25)) == "Correct. Well done."
    wrong = check("intro.eta_opt", 0.5)
    assert not wrong and repr(wrong).startswith("Not yet. The number is not right. Hint:")
    assert repr(check("intro.eta_opt", ...)) == "Not yet. Write your answer in place of `...` first."


def test_registry_rules() -> None:
    with pytest.raises(ValueError, match=r"Invalid key: 'intro.nope' \(no exercise of that name"):
        get("intro.nope")
    with pytest.raises(TypeError, match="Invalid key: 3 "):
        check(3, 0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Invalid ex: None"):
        register(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid exercise key"):
        register(Exercise("nodot", "q", NumberAnswer(1.0)))
    with pytest.raises(ValueError, match="already registered"):
        register(Exercise("intro.eta_opt", "q", NumberAnswer(1.0)))


def test_every_exercise_has_a_hint_and_rejects_nonsense() -> None:
    exercises = registry()
    assert "intro.eta_opt" in exercises
    for key, ex in exercises.items():
        assert ex.hint, f"{key} has no hint"
        assert not ex.check(object()), f"{key} accepts any object"


def test_intro_exercises() -> None:
    assert check("intro.eta_max", 0.5) and not check("intro.eta_max", 0.25)

    def gd(a: float, b: float, w0: float, lr: float, steps: int) -> np.ndarray:
        w = [w0]
        for _ in range(steps):
            w.append(w[-1] - lr * (a * w[-1] + b))
        return np.array(w)

    assert check("intro.gd_path", gd)
    assert not check("intro.gd_path", lambda a, b, w0, lr, steps: gd(a, b, w0, lr, steps)[:-1])
    assert not check("intro.gd_path", lambda a, b, w0, lr, steps: gd(a, 0.0, w0, lr, steps))
    # the loss gap is multiplied by r^2 = 0.64; the inverse 1/0.64 is refused with its own message
    assert check("intro.gap_factor", 0.64)
    inverse = check("intro.gap_factor", 1 / 0.64)
    assert not inverse and "between 0 and 1" in repr(inverse)
    assert not check("intro.gap_factor", 0.8) and "between 0 and 1" not in repr(check("intro.gap_factor", 0.8))
