"""Responses files written in tmp_path: strict line checks (file, line, field), one error listing the
missing and the unknown ids (first few + counts), responses in suite order, identity = the file's bytes."""

from __future__ import annotations

import hashlib
import json

import pytest

from plot_eval.generation.responses_file import SHOW_IDS, ResponsesFile
from plot_eval.sources.base import SourceRowError


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_responses_in_suite_order_and_identity_is_the_file_content(tmp_path):
    path = _write(
        tmp_path / "m.jsonl", [{"id": "b", "response": "two", "extra": 1}, "", {"id": "a", "response": ""}]
    )
    side = ResponsesFile(path)
    assert side.respond(["a", "b"], None, None, None) == ["", "two"]  # empty text is a (non-)answer, kept
    assert side.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()
    assert side.describe()["name"] == f"responses:{path.resolve()}"
    _write(path, [{"id": "b", "response": "two!"}, {"id": "a", "response": ""}])
    assert ResponsesFile(path).fingerprint != side.fingerprint
    assert side.lm_eval_skip_reason and "lm-eval" in side.lm_eval_skip_reason


@pytest.mark.parametrize(
    ("bad_line", "field", "reason"),
    [
        ('{"id": "b", "response": ', "<json>", "invalid JSON"),
        ('["b", "text"]', "<json>", "expected a JSON object"),
        ({"id": "b"}, "response", "must be a string, got missing"),
        ({"id": "b", "response": None}, "response", "must be a string, got null"),  # issue 19: "missing"
        ({"id": None, "response": "x"}, "id", "must be a string, got null"),
        ({"id": 7, "response": "x"}, "id", "must be a string, got int"),
        ({"id": "b", "response": ["x"]}, "response", "must be a string, got list"),
        ({"id": "a", "response": "again"}, "id", "duplicate id 'a' (first on line 1)"),
    ],
)
def test_bad_line_names_file_line_and_field(tmp_path, bad_line, field, reason):
    path = _write(tmp_path / "m.jsonl", [{"id": "a", "response": "x"}, bad_line])
    with pytest.raises(SourceRowError) as info:
        ResponsesFile(path)
    assert (info.value.file, info.value.row, info.value.field) == (str(path.resolve()), 2, field)
    assert reason in info.value.reason and str(path.resolve()) in str(info.value)
    assert f"{path.resolve()}: line 2: field '{field}': " in str(info.value)  # issue 19: said "row 2"


def test_missing_and_unknown_ids_in_one_error(tmp_path):
    expected = [f"set/p{i}" for i in range(SHOW_IDS + 5)]
    rows = [{"id": "set/p0", "response": "x"}, {"id": "typo/p1", "response": "y"}]
    side = ResponsesFile(_write(tmp_path / "base.jsonl", rows), role="baseline")
    with pytest.raises(ValueError) as info:
        side.check(expected)
    message = str(info.value)
    assert message.startswith(f"baseline responses file {tmp_path / 'base.jsonl'}: ")
    missing = [f"set/p{i}" for i in range(1, SHOW_IDS + 1)]
    assert f"missing ids {SHOW_IDS + 4}: {missing} ... and 4 more" in message
    assert "unknown ids 1: ['typo/p1']" in message and f"({len(expected)} expected)" in message


def test_exact_match_passes_and_duplicate_suite_ids_are_refused(tmp_path):
    side = ResponsesFile(
        _write(tmp_path / "m.jsonl", [{"id": "x", "response": "1"}, {"id": "y", "response": "2"}])
    )
    side.check(["y", "x"])
    with pytest.raises(ValueError, match=r"not unique.*\['x'\]"):
        side.check(["x", "x", "y"])
    with pytest.raises(FileNotFoundError, match="model responses file not found"):
        ResponsesFile(tmp_path / "nope.jsonl")
