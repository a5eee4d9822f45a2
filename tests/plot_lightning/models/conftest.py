"""A stand-in for the slow GGUF load: ``from_pretrained(..., gguf_file=...)`` returns the tiny model/tokenizer."""

from __future__ import annotations

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from plot_lightning.models.tiny import tiny_model, tiny_tokenizer


@pytest.fixture
def fake_gguf_loads(monkeypatch, tmp_path):
    """Patch the GGUF loads (tokenizer WITHOUT a chat template); count the model loads; cache in tmp_path."""
    calls = {"model": 0}
    vocab = len(tiny_tokenizer())

    def fake_model(cls, *args, **kwargs):
        if "gguf_file" not in kwargs:
            return original_model(*args, **kwargs)
        calls["model"] += 1
        model = tiny_model(vocab)
        model.config.quantization_config = {"quant_method": "gguf"}  # what a GGUF load carries
        return model

    def fake_tokenizer(cls, *args, **kwargs):
        if "gguf_file" not in kwargs:
            return original_tokenizer(*args, **kwargs)
        tokenizer = tiny_tokenizer()
        tokenizer.chat_template = calls.get("template")  # None unless a test says the GGUF carries one
        return tokenizer

    original_model = AutoModelForCausalLM.from_pretrained
    original_tokenizer = AutoTokenizer.from_pretrained
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", classmethod(fake_model))
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", classmethod(fake_tokenizer))
    monkeypatch.setenv("PLOT_MODEL_CACHE", str(tmp_path / "cache"))
    return calls
