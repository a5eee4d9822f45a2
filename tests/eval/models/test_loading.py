"""Model loading errors name the folder."""

from __future__ import annotations

import shutil

import pytest
import torch

from plot_eval.models.loading import ModelLoadError, load_model


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
