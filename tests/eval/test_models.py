"""Model loading errors name the folder; fingerprints follow content; default model folders exist."""

from __future__ import annotations

import shutil

import pytest
import torch

from eval.models import (
    ModelLoadError,
    default_embedding_model_path,
    default_scorer_model_path,
    load_model,
    model_fingerprint,
)


def test_load_model_returns_eval_mode_fp32_model_and_tokenizer(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    assert not model.training
    assert next(model.parameters()).dtype == torch.float32
    assert tokenizer.eos_token == "<|im_end|>"


def test_missing_folder_error_names_it(tmp_path):
    missing = tmp_path / "no-such-checkpoint"
    with pytest.raises(ModelLoadError, match="no-such-checkpoint.*does not exist"):
        load_model(missing)


def test_folder_without_config_error_names_it(tmp_path, tiny_model_dir):
    broken = tmp_path / "no-config"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "config.json").unlink()
    with pytest.raises(ModelLoadError, match="no-config has no config.json"):
        load_model(broken)


def test_corrupt_weights_error_names_folder(tmp_path, tiny_model_dir):
    broken = tmp_path / "corrupt-weights"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match="cannot load model folder .*corrupt-weights"):
        load_model(broken)


def test_fingerprint_same_for_same_weights_and_changes_with_them(tmp_path, tiny_model_dir):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert model_fingerprint(copy) == model_fingerprint(tiny_model_dir)
    assert len(model_fingerprint(copy)) == 64
    model, _ = load_model(copy)
    in_memory = model_fingerprint(model)
    assert in_memory == model_fingerprint(load_model(tiny_model_dir)[0])
    with torch.no_grad():
        next(model.parameters())[0, 0] += 1.0
    assert model_fingerprint(model) != in_memory
    model.save_pretrained(copy)
    assert model_fingerprint(copy) != model_fingerprint(tiny_model_dir)


def test_default_embedding_model_is_a_hf_folder():
    folder = default_embedding_model_path()
    assert (folder / "config.json").is_file()


def test_default_scorer_model_reused_from_cache(tmp_path, monkeypatch, tiny_model_dir):
    """A complete folder already in $PLOT_MODEL_CACHE is returned as is (no conversion)."""
    monkeypatch.setenv("PLOT_MODEL_CACHE", str(tmp_path))
    shutil.copytree(tiny_model_dir, tmp_path / "SmolLM2-135M-Instruct")
    monkeypatch.setattr("eval.models._convert_gguf", lambda *a: pytest.fail("must not convert"))
    assert default_scorer_model_path() == tmp_path / "SmolLM2-135M-Instruct"


def test_default_scorer_model_conversion_is_atomic(tmp_path, monkeypatch, tiny_model_dir):
    """A failed conversion leaves no folder behind; a successful one is renamed into place."""
    monkeypatch.setenv("PLOT_MODEL_CACHE", str(tmp_path))

    def failing(gguf, target):
        (target / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.setattr("eval.models._convert_gguf", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        default_scorer_model_path()
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(
        "eval.models._convert_gguf",
        lambda gguf, target: shutil.copytree(tiny_model_dir, target, dirs_exist_ok=True),
    )
    assert default_scorer_model_path() == tmp_path / "SmolLM2-135M-Instruct"
    assert [p.name for p in tmp_path.iterdir()] == ["SmolLM2-135M-Instruct"]


def test_unknown_hub_name_offline_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="no-such-org/no-such-model.*tried as a hub name"):
        load_model("no-such-org/no-such-model")
