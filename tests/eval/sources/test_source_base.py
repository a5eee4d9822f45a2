"""Strict readers: a bad row is an error naming file, row and field."""

from __future__ import annotations

import pytest

from plot_eval.sources import load_source
from plot_eval.sources.base import SourceRowError, read_jsonl, require


def test_source_bad_json_row_names_file_and_row(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"a": 1}\n{broken\n')
    with pytest.raises(SourceRowError, match=r"q.jsonl: row 2: field '<json>'"):
        list(read_jsonl(path))


def test_source_require_checks_presence_type_and_emptiness(tmp_path):
    path = tmp_path / "q.jsonl"
    with pytest.raises(SourceRowError, match="row 3: field 'turns': missing"):
        require(path, 3, {}, "turns")
    with pytest.raises(SourceRowError, match="field 'question_id': expected"):
        require(path, 1, {"question_id": "7"}, "question_id", int)
    with pytest.raises(SourceRowError, match="field 'question': empty"):
        require(path, 1, {"question": "  "}, "question")


def test_source_load_source_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.jsonl"):
        load_source("gsm8k", "nothing.jsonl", {}, tmp_path)
    (tmp_path / "t.jsonl").write_text('{"question": "q?", "answer": "x #### 3"}\n')
    with pytest.raises(ValueError, match="bad options"):
        load_source("gsm8k", "t.jsonl", {"colour": "red"}, tmp_path)
    with pytest.raises(ValueError, match="unknown source"):
        load_source("nope", "t.jsonl", {}, tmp_path)
    assert [p.reference["gold"] for p in load_source("gsm8k", "t.jsonl", {}, tmp_path)] == ["3"]
