"""Model specs -> models and tokenizers: "tiny", a local folder, known packaged GGUFs, clear errors."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.models import loading


def test_tiny_spec_gives_matching_model_and_tokenizer() -> None:
    model = loading.load_causal_lm("tiny")
    tokenizer = loading.load_tokenizer("tiny")
    assert model.config.vocab_size == len(tokenizer)
    assert next(model.parameters()).dtype == torch.float32
    assert tokenizer.pad_token == "<|endoftext|>" and tokenizer.chat_template


def test_folder_spec_loads_in_requested_dtype(tiny_model_dir) -> None:
    model = loading.load_causal_lm(str(tiny_model_dir), dtype=torch.bfloat16)
    tokenizer = loading.load_tokenizer(str(tiny_model_dir))
    assert next(model.parameters()).dtype == torch.bfloat16
    assert model.config.vocab_size == len(tokenizer)


def test_folder_spec_reproduces_saved_weights(tiny_model_dir) -> None:
    from plot_lightning.models.tiny import tiny_model

    expected = tiny_model(len(loading.load_tokenizer("tiny")))
    loaded = loading.load_causal_lm(str(tiny_model_dir))
    ids = torch.tensor([[1, 5, 9, 2]])
    torch.testing.assert_close(loaded(ids).logits, expected(ids).logits)


@pytest.mark.parametrize("spec", ["/nonexistent/plot-model", "./missing-folder", "runs/a/b/export"])
def test_missing_folder_is_a_clear_error_naming_the_path(spec: str) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder") as error:
        loading.load_causal_lm(spec)
    assert spec.strip("./").split("/")[-1] in str(error.value)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        loading.load_tokenizer(spec)


def test_hub_name_offline_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE"):
        loading.load_causal_lm("HuggingFaceTB/not-a-local-folder")


@pytest.mark.parametrize("name", ["smollm2-135m-instruct", "gemma-3-270m"])
def test_known_gguf_spec_uses_the_converted_folder(monkeypatch, tiny_model_dir, name) -> None:
    from plot_lightning.models import prepare

    asked = []
    monkeypatch.setattr(prepare, "known_folder", lambda spec: asked.append(spec) or tiny_model_dir)
    model = loading.load_causal_lm(name)
    tokenizer = loading.load_tokenizer(name.upper())
    assert model.config.vocab_size == len(tokenizer) and asked == [name, name.upper()]


def test_missing_pad_token_falls_back_to_eos(tmp_path) -> None:
    tokenizer = loading.load_tokenizer("tiny")
    tokenizer.pad_token = None
    tokenizer.save_pretrained(tmp_path)
    reloaded = loading.load_tokenizer(str(tmp_path))
    assert reloaded.pad_token == reloaded.eos_token == "<|im_end|>"
