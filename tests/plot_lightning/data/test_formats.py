import pytest

from plot_lightning.data.errors import RowProblem
from plot_lightning.data.formats import detect_format, normalise_row

USER = [{"role": "user", "content": "What is 2+2?"}]
EXPECTED = {"prompt": USER, "chosen": "4", "rejected": "5", "subpreference": "all"}
ROWS = {
    "standard": {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5"},
    "conversational": {
        "prompt": USER,
        "chosen": [{"role": "assistant", "content": "4"}],
        "rejected": [{"role": "assistant", "content": "5"}],
    },
    "implicit": {
        "chosen": "\n\nHuman: What is 2+2?\n\nAssistant: 4",
        "rejected": "\n\nHuman: What is 2+2?\n\nAssistant: 5",
    },
    "implicit-messages": {
        "chosen": [*USER, {"role": "assistant", "content": "4"}],
        "rejected": [*USER, {"role": "assistant", "content": "5"}],
    },
}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_pair_format_normalises_to_the_same_record(name):
    row = ROWS[name]
    assert normalise_row(row, detect_format(row)) == EXPECTED


@pytest.mark.parametrize(
    "row",
    [
        {"prompt": "What is 2+2?", "chosen": "4"},
        {"messages": [*USER, {"role": "assistant", "content": "4"}]},
        {"prompt": USER, "completion": "4"},
    ],
)
def test_sft_formats(row):
    assert detect_format(row) == "sft"
    assert normalise_row(row, "sft") == {**EXPECTED, "rejected": None}


def test_subpreference_and_pairs_false():
    row = {**ROWS["standard"], "subpreference": " math "}
    assert normalise_row(row, "standard")["subpreference"] == "math"
    assert normalise_row(row, "standard", pairs=False)["rejected"] is None


def test_detect_format_errors_name_the_source_and_columns():
    with pytest.raises(ValueError, match=r"f.csv: cannot tell.*\['answer', 'question'\]"):
        detect_format(["question", "answer"], source="f.csv")
    with pytest.raises(ValueError, match=r"needs column\(s\) \['prompt'\]"):
        detect_format(["chosen", "rejected"], "standard")
    with pytest.raises(ValueError, match="format must be one of"):
        detect_format(["chosen"], "dpo")
    assert detect_format(["prompt", "chosen", "rejected"], "conversational") == "standard"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"prompt": "q", "chosen": "a"}, "rejected"),
        ({"prompt": "q", "chosen": "", "rejected": "b"}, "chosen"),
        ({"prompt": 3, "chosen": "a", "rejected": "b"}, "prompt"),
        ({"prompt": "q", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"}, "chosen"),
        ({"prompt": [{"role": "assistant", "content": "a"}], "chosen": "a", "rejected": "b"}, "prompt"),
        ({"prompt": "q", "chosen": "a", "rejected": "b", "subpreference": 1}, "subpreference"),
    ],
)
def test_bad_rows_name_the_field(row, field):
    with pytest.raises(RowProblem) as caught:
        normalise_row(row, "standard")
    assert caught.value.field == field


def test_implicit_message_lists_must_share_the_prompt():
    row = {
        "chosen": ROWS["implicit-messages"]["chosen"],
        "rejected": [{"role": "user", "content": "other"}, {"role": "assistant", "content": "5"}],
    }
    with pytest.raises(RowProblem, match="differ") as caught:
        normalise_row(row, "implicit")
    assert caught.value.field == "rejected"
