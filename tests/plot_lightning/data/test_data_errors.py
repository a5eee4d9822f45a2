"""Data errors that show the cause: every bad row in one error, the missing column named with the columns
found, skipped rows written to the run folder, identical pairs counted, U+FFFD kept as text."""

from __future__ import annotations

import json
import logging

import lightning.pytorch as pl
import pytest

from plot_lightning.data import BadRowsError, DataFormatError, DataSourceError, PreferenceDataModule
from plot_lightning.data.skipped_rows import SKIPPED_ROWS_FILE

GOOD = {"prompt": "What is 2+2?", "chosen": "It is 4.", "rejected": "It is 5."}


def _module(path, tokenizer, **kwargs):
    kwargs = {"max_length": 64, "max_prompt_length": 32, "batch_size": 2, "shuffle": False, **kwargs}
    return PreferenceDataModule(str(path), tokenizer=tokenizer, **kwargs)


def test_every_bad_row_is_in_one_error_even_with_a_truncated_last_line(write_jsonl, tiny_tokenizer):
    """25 bad rows (24 empty 'chosen' + a truncated last line): one error with the count and the first
    20 rows in file order; the truncated line does not hide the rows before it."""
    rows = [GOOD] + [{**GOOD, "chosen": ""}] * 24 + ['{"prompt": "cut off here", "chos']
    path = write_jsonl(rows)
    with pytest.raises(BadRowsError) as caught:
        _module(path, tiny_tokenizer).setup("fit")
    message = str(caught.value)
    assert "25 bad row(s)" in message and "... and 5 more" in message
    assert f"{path}: row 2: field 'chosen': empty string" in message
    assert f"{path}: row 21: field 'chosen'" in message and f"{path}: row 22:" not in message
    assert [problem.row for problem in caught.value.problems] == list(range(2, 27))
    assert caught.value.problems[-1].field == "(json)"


def test_tokenisation_problems_are_collected_too(write_jsonl, tiny_tokenizer):
    long_prompt = {**GOOD, "prompt": "word " * 200}
    path = write_jsonl([long_prompt, GOOD, long_prompt])
    with pytest.raises(BadRowsError, match=r"2 bad row") as caught:
        _module(path, tiny_tokenizer, max_prompt_length=None).setup("fit")
    assert [(p.row, p.field) for p in caught.value.problems] == [(1, "prompt"), (3, "prompt")]


@pytest.mark.parametrize("column", ["rejectd", "Rejected", "reject"])
def test_a_misspelt_rejected_column_names_the_file_the_columns_and_the_formats(
    write_jsonl, tiny_tokenizer, column
):
    path = write_jsonl([{"prompt": "q", "chosen": "a", column: "b"}])
    with pytest.raises(DataFormatError) as caught:
        _module(path, tiny_tokenizer).setup("fit")
    message = str(caught.value)
    assert str(path) in message and f"'{column}' (did you mean 'rejected'?)" in message
    assert (
        f"found columns {sorted(['chosen', 'prompt', column])}" in message
        and "prompt/chosen/rejected" in message
    )


def test_sft_data_with_a_loss_that_needs_pairs_fails_before_the_model_loads(
    write_jsonl, tiny_tokenizer, tmp_path
):
    """No 'rejected' column: SFT data, accepted for SFT losses; DPO names file, columns and formats."""
    from plot_lightning.module import PLOTModule

    path = write_jsonl([{"prompt": "q", "chosen": "a"}] * 2)
    data = _module(path, tiny_tokenizer)
    trainer = pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False, default_root_dir=tmp_path)
    with pytest.raises(DataFormatError) as caught:
        trainer.fit(PLOTModule(losses=["dpo"], weights=[1.0]), datamodule=data)
    message = str(caught.value)
    assert "losses ['dpo'] need a rejected response" in message
    assert f"{path}: columns ['chosen', 'prompt']" in message and "prompt/chosen/rejected" in message
    assert not data.has_rejected  # read as SFT data: fine for losses that need no rejected response


def test_skip_writes_the_skipped_rows_to_the_run_folder(write_jsonl, tiny_tokenizer, tmp_path, caplog):
    from plot_lightning.module import PLOTModule

    rows = [GOOD, {**GOOD, "chosen": ""}, GOOD, {**GOOD, "rejected": 3}, GOOD]
    path = write_jsonl(rows)
    data = _module(path, tiny_tokenizer, on_bad_row="skip")
    trainer = pl.Trainer(
        max_steps=1,
        logger=pl.loggers.CSVLogger(tmp_path),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with caplog.at_level(logging.WARNING):
        trainer.fit(PLOTModule(losses=["dpo"], weights=[1.0]), datamodule=data)
    written = [
        json.loads(line) for line in (tmp_path / "lightning_logs" / "version_0" / SKIPPED_ROWS_FILE).open()
    ]
    assert [(r["row"], r["field"]) for r in written] == [(2, "chosen"), (4, "rejected")]
    assert written[0] == {
        "split": "train",
        "file": str(path),
        "row": 2,
        "field": "chosen",
        "reason": "empty string",
    }
    assert "skipped 2 bad row(s)" in caplog.text


def test_identical_pairs_are_warned_and_counted(write_jsonl, tiny_tokenizer, caplog):
    path = write_jsonl([GOOD, {**GOOD, "rejected": GOOD["chosen"]}, {**GOOD, "rejected": GOOD["chosen"]}])
    data = _module(path, tiny_tokenizer)
    with caplog.at_level(logging.WARNING):
        data.setup("fit")
    assert data.identical_pairs == 2
    assert "2 pair(s) with chosen == rejected" in caplog.text and f"{path} row 2" in caplog.text


def test_a_genuine_replacement_character_is_text_and_bad_bytes_are_errors(tmp_path, tiny_tokenizer):
    """U+FFFD written as valid UTF-8 trains; an invalid byte (0xff) in the file is reported with its row."""
    text = tmp_path / "fffd.jsonl"
    text.write_text(
        json.dumps({**GOOD, "chosen": "The symbol \ufffd marks bad bytes."}, ensure_ascii=False) + "\n"
    )
    _module(text, tiny_tokenizer).setup("fit")
    raw = tmp_path / "bytes.jsonl"
    raw.write_bytes(
        (json.dumps(GOOD) + "\n").encode() + b'{"prompt": "q", "chosen": "caf\xff", "rejected": "b"}\n'
    )
    with pytest.raises(BadRowsError, match=rf"{raw}: row 2: field 'chosen': undecodable text"):
        _module(raw, tiny_tokenizer).setup("fit")


def test_an_empty_validation_file_is_named(write_jsonl, tiny_tokenizer, tmp_path):
    train = write_jsonl([GOOD, GOOD])
    empty = tmp_path / "val.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(DataSourceError, match=rf"^{empty}: empty: no data rows$"):
        _module(train, tiny_tokenizer, val_files=str(empty)).setup("fit")


def test_a_conversation_the_chat_template_refuses_is_a_row_error(write_jsonl, tiny_tokenizer):
    """Gemma's template has no system role and refuses a system turn after the first message (and any
    out-of-order role): that row is a bad row naming the file, the row and 'prompt', not a Jinja traceback."""
    from plot_lightning.models.chat_templates import GEMMA

    gemma = _gemma_tokenizer(tiny_tokenizer, GEMMA)
    late_system = [{"role": "user", "content": "Hi"}, {"role": "system", "content": "Be brief."}]
    first_system = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    path = write_jsonl([{**GOOD, "prompt": first_system}, {**GOOD, "prompt": late_system}])
    with pytest.raises(BadRowsError, match=r"1 bad row") as caught:
        _module(path, gemma).setup("fit")
    (problem,) = caught.value.problems
    assert (problem.file, problem.row, problem.field) == (str(path), 2, "prompt")
    assert "chat template" in problem.reason and "Gemma conversations alternate" in problem.reason


def _gemma_tokenizer(tokenizer, template):
    import copy

    gemma = copy.deepcopy(tokenizer)
    gemma.chat_template = template
    return gemma
