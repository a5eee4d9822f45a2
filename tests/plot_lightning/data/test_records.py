import pytest

from plot_lightning.data.errors import DataError
from plot_lightning.data.records import as_file_list, load_records, split_validation
from plot_lightning.data.validation import BadRowLog


def test_as_file_list():
    assert as_file_list(None) == [] and as_file_list("a.jsonl") == ["a.jsonl"]
    assert as_file_list(["a", "b"]) == ["a", "b"]


def test_split_validation_is_seeded_disjoint_and_ordered():
    records = [{"i": i} for i in range(20)]
    train, val = split_validation(records, 0.25, seed=3)
    assert len(val) == 5 and len(train) == 15
    assert sorted(r["i"] for r in train + val) == list(range(20))
    assert [r["i"] for r in val] == sorted(r["i"] for r in val)
    assert split_validation(records, 0.25, seed=3) == (train, val)
    assert split_validation(records, 0.0, seed=3) == (records, [])
    with pytest.raises(ValueError, match="val_fraction"):
        split_validation(records, 1.0, seed=0)


def test_records_keep_file_and_row_and_refuse_mixed_kinds(write_jsonl):
    pairs = write_jsonl([{"prompt": "q", "chosen": "a", "rejected": "b"}], "pairs.jsonl")
    sft = write_jsonl([{"prompt": "q", "chosen": "a"}], "sft.jsonl")
    records, has_rejected = load_records([str(pairs)], "auto", BadRowLog("error"))
    assert has_rejected and records[0]["file"] == str(pairs) and records[0]["row"] == 1
    assert load_records([str(sft)], "auto", BadRowLog("error"))[1] is False
    with pytest.raises(ValueError, match="mix SFT-only"):
        load_records([str(pairs), str(sft)], "auto", BadRowLog("error"))


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.jsonl", b""), ("blank.jsonl", b"\n  \n"), ("empty.json", b"[]"), ("empty.csv", b""),
     ("header_only.csv", b"prompt,chosen,rejected\n")],
)  # fmt: skip
def test_an_empty_file_is_named_as_empty(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"^{path}: empty: no data rows$"):
        load_records([str(path)], "auto", BadRowLog("error"))


def test_a_file_of_bad_rows_reports_the_rows_not_the_columns(write_jsonl):
    path = write_jsonl(["[1, 2]", '"text"'])
    with pytest.raises(DataError, match=rf"^{path}: row 1: field '\(json\)': expected a JSON object"):
        load_records([str(path)], "auto", BadRowLog("error"))
    with pytest.raises(DataError, match=rf"^{path}: no usable row: all 2 rows are bad \(row 1: field"):
        load_records([str(path)], "auto", BadRowLog("skip"))
