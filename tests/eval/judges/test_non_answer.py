"""Empty and degenerate output is a non-answer; short or unusual but real answers are not."""

from __future__ import annotations

import pytest

from plot_eval.judges.non_answer import is_gibberish, is_non_answer, is_repetition_loop


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  \n ",
        "...",
        "!!!!!!!!!!!!",
        "ha ha ha ha ha ha ha ha ha",
        "xkcd qwrtz bcdfg hjklm zzzzz",
        "abababababab",
    ],
)
def test_non_answers(text):
    assert is_non_answer(text)


@pytest.mark.parametrize(
    "text",
    [
        "42",
        "No.",
        "Paris.",
        "\\frac{1}{2}",
        "def f(x):\n    return x + 1",
        "Sí, claro: la respuesta es 7.",
        "Step 1: mix. Step 2: bake. Step 3: serve.",
    ],
)
def test_real_answers_are_not_non_answers(text):
    assert not is_non_answer(text)


def test_loop_and_gibberish_rules_separately():
    assert is_repetition_loop("I am a model. " * 6)
    assert not is_repetition_loop(
        "I am a model that writes varied sentences about many different topics today."
    )
    assert is_gibberish("qwrt zxcv bnmk")
    assert not is_gibberish("the cat sat")
