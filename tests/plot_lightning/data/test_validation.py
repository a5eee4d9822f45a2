import logging

import pytest

from plot_lightning.data.errors import DataValidationError, RowProblem
from plot_lightning.data.validation import BadRowLog, check_messages, check_text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing"),
        (5, "expected a string, got int"),
        (["a"], "expected a string, got list"),
        ("", "empty string"),
        ("  \n", "empty string"),
        ("bad \udcff byte", "undecodable text"),
        ("lone \ud800 surrogate", "undecodable text"),
    ],
)
def test_check_text_rejects(value, reason):
    with pytest.raises(RowProblem, match=reason) as caught:
        check_text(value, "chosen")
    assert caught.value.field == "chosen"


def test_check_text_accepts_unicode_including_a_genuine_replacement_character():
    """U+FFFD is a character like any other (text about encodings contains it); undecodable bytes are
    detected where the file is read (they arrive as lone surrogates, refused above)."""
    assert check_text("Ça va? 你好 🙂", "prompt") == "Ça va? 你好 🙂"
    assert check_text("the replacement character \ufffd", "chosen") == "the replacement character \ufffd"


def test_check_messages_names_the_bad_message():
    with pytest.raises(RowProblem) as caught:
        check_messages([{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}], "prompt")
    assert caught.value.field == "prompt[1].content"
    with pytest.raises(RowProblem, match="expected one of"):
        check_messages([{"role": "robot", "content": "hi"}], "prompt")
    with pytest.raises(RowProblem, match="empty list"):
        check_messages([], "messages")


def test_bad_row_log_raises_or_counts(caplog):
    errors = BadRowLog("error")
    errors.bad("f.jsonl", 9, RowProblem("y", "missing"))
    errors.bad("f.jsonl", 7, RowProblem("x", "empty string"))
    with pytest.raises(
        DataValidationError, match=r"f.jsonl: row 7: field 'x': empty string\n2 bad row"
    ) as caught:
        errors.raise_if_any()
    assert [(e.row, e.field) for e in caught.value.problems] == [(7, "x"), (9, "y")]
    log = BadRowLog("skip")
    log.seen = 10
    log.bad("f.jsonl", 7, RowProblem("x", "empty string"))
    log.bad("f.jsonl", 8, RowProblem("x", "empty string"))
    assert log.total_skipped == 2
    with caplog.at_level(logging.WARNING):
        log.log_summary("train data")
    assert "train data: skipped 2 of 10 rows (field 'x': empty string x2)" in caplog.text
    with pytest.raises(ValueError, match="on_bad_row"):
        BadRowLog("ignore")
