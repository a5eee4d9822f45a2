"""PreferenceDataModule end to end on small files: formats, validation errors, skipping, batches."""

import json
import logging

import datasets
import pytest

from plot_lightning.data import DataValidationError, PreferenceDataModule

Q, A, B = "What is 2+2?", "It is 4.", "It is 5."
USER = [{"role": "user", "content": Q}]
FORMATS = {
    "standard": {"prompt": Q, "chosen": A, "rejected": B},
    "conversational": {
        "prompt": USER,
        "chosen": [{"role": "assistant", "content": A}],
        "rejected": [{"role": "assistant", "content": B}],
    },
    "implicit": {
        "chosen": f"\n\nHuman: {Q}\n\nAssistant: {A}",
        "rejected": f"\n\nHuman: {Q}\n\nAssistant: {B}",
    },
}


def _module(files, tokenizer, **kwargs):
    kwargs = {"max_length": 64, "max_prompt_length": 32, "batch_size": 2, "shuffle": False, **kwargs}
    module = PreferenceDataModule(files, tokenizer=tokenizer, **kwargs)
    module.setup("fit")
    return module


def test_every_format_yields_the_same_token_layout(write_jsonl, tiny_tokenizer):
    layouts = []
    for name, row in FORMATS.items():
        module = _module(write_jsonl([row], f"{name}.jsonl"), tiny_tokenizer)
        layouts.append(module.train_dataset[0])
    assert layouts[0] == layouts[1] == layouts[2]
    assert layouts[0]["chosen_input_ids"] != layouts[0]["rejected_input_ids"]
    sft = _module(write_jsonl([{"messages": [*USER, {"role": "assistant", "content": A}]}]), tiny_tokenizer)
    assert not sft.has_rejected
    assert sft.train_dataset[0]["chosen_input_ids"] == layouts[0]["chosen_input_ids"]
    assert next(iter(sft.train_dataloader()))["input_ids"].shape[0] == 1
    chosen_only = _module(write_jsonl([FORMATS["standard"]], "pairs.jsonl"), tiny_tokenizer, format="sft")
    assert not chosen_only.has_rejected and chosen_only.train_dataset[0] == sft.train_dataset[0]


def test_batches_follow_the_contract(write_jsonl, tiny_tokenizer):
    rows = [{**FORMATS["standard"], "subpreference": name} for name in ("math", "honesty", "math")]
    module = _module(write_jsonl(rows), tiny_tokenizer)
    assert module.subpreferences == ["honesty", "math"]
    batch = next(iter(module.train_dataloader()))
    assert batch["input_ids"].shape[0] == 4 and batch["has_rejected"] is True
    assert batch["example_index"].tolist() == [0, 1] and batch["subpreference_id"].tolist() == [1, 0]
    pad = batch["attention_mask"] == 0
    assert (batch["labels"][pad] == -100).all() and (
        batch["input_ids"][pad] == tiny_tokenizer.pad_token_id
    ).all()
    chosen = batch["labels"][0][batch["labels"][0] != -100]
    assert tiny_tokenizer.decode(chosen) == A + "<|im_end|>\n"


def test_no_subpreference_column_gives_all(write_jsonl, tiny_tokenizer):
    module = PreferenceDataModule(write_jsonl([FORMATS["standard"]]), tokenizer=tiny_tokenizer)
    assert module.subpreferences == ["all"]  # available before setup()


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        ({"prompt": Q, "chosen": A}, "rejected", "missing"),
        ({"prompt": Q, "chosen": "", "rejected": B}, "chosen", "empty string"),
        ({"prompt": Q, "chosen": A, "rejected": 5}, "rejected", "expected a string, got int"),
        ({"prompt": "caf\udce9", "chosen": A, "rejected": B}, "prompt", "undecodable text"),
    ],
)
def test_bad_row_errors_name_file_row_and_field(tmp_path, tiny_tokenizer, bad, field, reason):
    path = tmp_path / "bad.jsonl"
    good = json.dumps(FORMATS["standard"])
    path.write_text(f"{good}\n\n{good}\n{json.dumps(bad)}\n", encoding="utf-8", errors="surrogatepass")
    with pytest.raises(DataValidationError, match=rf"^{path}: row 4: field '{field}': {reason}"):
        _module(str(path), tiny_tokenizer)


def test_malformed_json_line_is_an_error(write_jsonl, tiny_tokenizer):
    path = write_jsonl([FORMATS["standard"], "{not json"])
    with pytest.raises(DataValidationError, match=rf"^{path}: row 2: field '\(json\)': malformed JSON"):
        _module(path, tiny_tokenizer)


def test_row_that_cannot_fit_errors_or_is_skipped(write_jsonl, tiny_tokenizer, caplog):
    long_row = {"prompt": "the quick brown fox " * 20, "chosen": A, "rejected": B}
    rows = [FORMATS["standard"], long_row, {"prompt": Q, "chosen": "", "rejected": B}, FORMATS["standard"]]
    too_long = write_jsonl(rows[:2], "too_long.jsonl")
    with pytest.raises(DataValidationError, match=rf"^{too_long}: row 2: field 'prompt': cannot fit"):
        _module(too_long, tiny_tokenizer, max_prompt_length=None)
    path = write_jsonl(rows)
    with caplog.at_level(logging.WARNING):
        module = _module(path, tiny_tokenizer, max_prompt_length=None, on_bad_row="skip")
    assert len(module.train_dataset) == 2
    assert module.train_dataset["example_index"] == [0, 1]
    assert "skipped 1 of 4 rows (field 'chosen': empty string x1)" in caplog.text
    assert "skipped 1 of 3 rows (field 'prompt': cannot fit x1)" in caplog.text


def test_everything_skipped_is_an_error(write_jsonl, tiny_tokenizer):
    with pytest.raises(ValueError, match="no usable training rows"):
        _module(write_jsonl([{"prompt": Q, "chosen": "", "rejected": B}]), tiny_tokenizer, on_bad_row="skip")


def test_validation_split_and_files(write_jsonl, tiny_tokenizer):
    rows = [{**FORMATS["standard"], "prompt": f"{Q} ({i})"} for i in range(10)]
    path = write_jsonl(rows)
    split = _module(path, tiny_tokenizer, val_fraction=0.2, seed=1)
    assert (len(split.train_dataset), len(split.val_dataset)) == (8, 2)
    assert split.val_dataset["example_index"] == [0, 1]
    assert _module(path, tiny_tokenizer).val_dataloader() == []
    separate = _module(path, tiny_tokenizer, val_files=[str(write_jsonl(rows[:3], "val.jsonl"))])
    assert len(separate.val_dataset) == 3 and len(next(iter(separate.val_dataloader()))["example_index"]) == 2
    sft = write_jsonl([{"prompt": Q, "chosen": A}], "sft.jsonl")
    with pytest.raises(ValueError, match="both be preference pairs"):
        _module(path, tiny_tokenizer, val_files=sft)


def test_parquet_and_csv_files(tmp_path, tiny_tokenizer):
    parquet, csv = tmp_path / "pairs.parquet", tmp_path / "pairs.csv"
    datasets.Dataset.from_list([FORMATS["standard"]]).to_parquet(str(parquet))
    csv.write_text(
        f"prompt,chosen,rejected,subpreference\n{Q},{A},{B},math\n{Q},{A},,math\n", encoding="utf-8"
    )
    from_csv = _module(csv, tiny_tokenizer, on_bad_row="skip")
    assert _module(parquet, tiny_tokenizer).train_dataset[0] == from_csv.train_dataset[0]
    assert from_csv.subpreferences == ["math"]
    with pytest.raises(DataValidationError, match=rf"^{csv}: row 3: field 'rejected': empty string"):
        _module(csv, tiny_tokenizer)


def test_tokenizer_spec_and_argument_checks(write_jsonl):
    path = write_jsonl([FORMATS["standard"]])
    module = _module(path, "tiny")
    assert module.tokenizer.bos_token == "<|im_start|>" and len(module.train_dataset) == 1
    with pytest.raises(ValueError, match="on_bad_row"):
        PreferenceDataModule(path, on_bad_row="ignore")
    with pytest.raises(ValueError, match="max_prompt_length"):
        PreferenceDataModule(path, max_length=16, max_prompt_length=32)
    with pytest.raises(ValueError, match="train_files is empty"):
        PreferenceDataModule([])


def test_committed_demo_sample_loads(tiny_tokenizer):
    module = _module(
        "sample:demo", tiny_tokenizer, max_length=256, max_prompt_length=128, val_files="sample:demo_val"
    )
    assert module.subpreferences == ["code", "harmlessness", "helpfulness", "honesty", "math"]
    assert len(module.train_dataset) == 185 and len(module.val_dataset) == 35


def test_lightning_distributed_sampler_injection_splits_examples(write_jsonl, tiny_tokenizer):
    """Lightning rebuilds the train loader with a DistributedSampler under DDP; ranks see disjoint rows."""
    from lightning.pytorch.utilities.data import _update_dataloader
    from torch.utils.data import DistributedSampler

    rows = [{**FORMATS["standard"], "prompt": f"{Q} ({i})"} for i in range(6)]
    module = _module(write_jsonl(rows), tiny_tokenizer, shuffle=True)
    seen = []
    for rank in (0, 1):
        sampler = DistributedSampler(module.train_dataset, num_replicas=2, rank=rank, shuffle=True, seed=0)
        loader = _update_dataloader(module.train_dataloader(), sampler)
        seen.append([i for batch in loader for i in batch["example_index"].tolist()])
    assert len(seen[0]) == len(seen[1]) == 3 and sorted(seen[0] + seen[1]) == list(range(6))
