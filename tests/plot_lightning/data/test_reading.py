"""Reading sources: row numbers as in the file, malformed lines, encodings, parquet / csv through datasets."""

import gzip
import json

import datasets
import pytest

from plot_lightning.data.errors import DataValidationError
from plot_lightning.data.reading import SAMPLES_DIR, read_table, resolve_source
from plot_lightning.data.validation import BadRowLog

ROW = {"prompt": "q", "chosen": "a", "rejected": "b"}


def test_jsonl_row_numbers_count_blank_lines(write_jsonl):
    path = write_jsonl([ROW, "", ROW])
    table = read_table(path, BadRowLog("error"))
    assert table.row_numbers == [1, 3]
    assert table.columns == {"prompt", "chosen", "rejected"}


def _read_strict(path):
    """Read with on_bad_row="error": bad lines are collected, then raised together."""
    bad_rows = BadRowLog("error")
    table = read_table(path, bad_rows)
    bad_rows.raise_if_any()
    return table


def test_malformed_json_line_names_file_row_and_field(write_jsonl):
    path = write_jsonl([ROW, '{"prompt": "q", "chosen": "a",', ROW])
    with pytest.raises(DataValidationError, match=rf"^{path}: row 2: field '\(json\)': malformed JSON line"):
        _read_strict(path)
    skipped = BadRowLog("skip")
    assert read_table(path, skipped).row_numbers == [1, 3]
    assert skipped.total_skipped == 1


def test_non_object_line_is_an_error(write_jsonl):
    with pytest.raises(
        DataValidationError, match="row 1: field '\\(json\\)': expected a JSON object, got list"
    ):
        _read_strict(write_jsonl(["[1, 2]", '"text"']))


def test_invalid_utf8_bytes_reach_the_field_check(tmp_path):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"prompt": "q", "chosen": "caf\xe9", "rejected": "b"}\n')
    table = read_table(path, BadRowLog("error"))
    assert "\udce9" in table.rows[0]["chosen"]  # surrogate-escaped byte, rejected later by check_text


def test_json_array_and_gzip(tmp_path):
    array = tmp_path / "rows.json"
    array.write_text(json.dumps([ROW, ROW]))
    assert read_table(array, BadRowLog("error")).row_numbers == [1, 2]
    packed = tmp_path / "rows.jsonl.gz"
    with gzip.open(packed, "wt") as handle:
        handle.write(json.dumps(ROW) + "\n")
    assert read_table(packed, BadRowLog("error")).rows == [ROW]


def test_csv_through_datasets_with_line_numbers(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('prompt,chosen,rejected\nq1,"two\nlines",b\nq2,42,\n', encoding="utf-8")
    table = read_table(path, BadRowLog("error"))
    assert table.rows == [
        {"prompt": "q1", "chosen": "two\nlines", "rejected": "b"},
        {"prompt": "q2", "chosen": "42", "rejected": ""},  # cells stay strings; empty stays empty
    ]
    assert table.row_numbers == [2, 4]


def test_undecodable_csv_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"prompt,chosen,rejected\nq,a,b\nq,caf\xe9,b\n")
    with pytest.raises(DataValidationError, match=rf"^{path}: row 3: field '\(csv\)': undecodable"):
        read_table(path, BadRowLog("error"))


def test_parquet_through_datasets(tmp_path):
    path = tmp_path / "rows.parquet"
    datasets.Dataset.from_list([ROW, {**ROW, "chosen": "c"}]).to_parquet(str(path))
    table = read_table(path, BadRowLog("error"))
    assert [row["chosen"] for row in table.rows] == ["a", "c"] and table.row_numbers == [1, 2]


def test_resolve_source_errors_and_samples(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such data file"):
        resolve_source(tmp_path / "missing.jsonl")
    with pytest.raises(FileNotFoundError, match="no committed sample"):
        resolve_source("sample:nothing")
    with pytest.raises(FileNotFoundError, match="HF_DATASETS_OFFLINE"):
        resolve_source("someone/some-dataset")
    assert resolve_source("sample:demo") == SAMPLES_DIR / "demo.jsonl"
    with pytest.raises(ValueError, match="unsupported file type"):
        (tmp_path / "rows.txt").write_text("x")
        read_table(tmp_path / "rows.txt", BadRowLog("error"))
