"""Reading sources: row numbers as in the file, malformed lines, encodings, parquet / csv through datasets."""

import gzip
import json
import re

import datasets
import pytest

from plot_lightning.data.errors import DataFormatError, DataSourceError, DataValidationError
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
    with pytest.raises(DataSourceError, match="unsupported file type"):
        (tmp_path / "rows.txt").write_text("x")
        read_table(tmp_path / "rows.txt", BadRowLog("error"))


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_unicode_line_separators_inside_strings_are_text(tmp_path, separator):
    """JSON allows raw U+2028 / U+2029 / U+0085 in strings; only "\\n" ends a JSON line (also as "\\r\\n")."""
    rows = [{**ROW, "chosen": f"one{separator}two"}, {**ROW, "prompt": f"{separator}q"}]
    path = tmp_path / "rows.jsonl"
    path.write_bytes("\r\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode() + b"\r\n")
    table = _read_strict(path)
    assert table.rows == rows and table.row_numbers == [1, 2]


def _with_bom(path, text):
    data = b"\xef\xbb\xbf" + text.encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("rows.jsonl", json.dumps(ROW) + "\n" + json.dumps(ROW) + "\n"),
        ("rows.jsonl.gz", json.dumps(ROW) + "\n" + json.dumps(ROW) + "\n"),
        ("rows.json", json.dumps([ROW, ROW])),
        ("rows.csv", "prompt,chosen,rejected\nq,a,b\nq,a,b\n"),
    ],
)
def test_a_utf8_byte_order_mark_is_read_not_rejected(tmp_path, name, text):
    table = _read_strict(_with_bom(tmp_path / name, text))
    assert table.rows == [ROW, ROW] and table.columns == set(ROW)


@pytest.mark.parametrize("indent", [None, 2])
def test_a_json_array_saved_as_jsonl_is_named_as_such(tmp_path, indent):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps([ROW, ROW], indent=indent), encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"^{path}: a JSON array, not JSON lines") as caught:
        _read_strict(path)
    assert "\n" not in str(caught.value)


def test_a_directory_is_not_a_data_file(tmp_path):
    folder = tmp_path / "pairs.jsonl"
    folder.mkdir()
    for spec in (folder, tmp_path):
        with pytest.raises(DataSourceError, match=rf"^{spec}: a directory, not a data file"):
            resolve_source(spec)


@pytest.mark.parametrize(
    "spec", ["runs/data/pairs", "data/pairs", "./pairs", "~/no-such-dir/pairs", "my pairs"]
)
def test_a_missing_local_looking_path_never_goes_to_the_hub(tmp_path, monkeypatch, spec):
    """Offline variables unset: a hub lookup would be tried. "data/pairs" has the hub's org/name shape, but
    its first part is a local folder; "my pairs" cannot be a hub name (a space)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(DataSourceError, match=rf"^{re.escape(spec)}: no such data file") as caught:
        read_table(spec, BadRowLog("error"))
    assert isinstance(caught.value, FileNotFoundError) and "\n" not in str(caught.value)


def test_a_hub_name_that_cannot_be_loaded_is_one_line(monkeypatch):
    """A name in the hub's shape goes to the hub; its failure (here: the test session's datasets library is
    offline, whatever the variables say now) is one DataError line naming the source, not a traceback."""
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(
        DataSourceError, match=r"^someone/some-dataset: not a local file, and the Hugging Face"
    ) as caught:
        read_table("someone/some-dataset", BadRowLog("error"))
    assert "\n" not in str(caught.value)
