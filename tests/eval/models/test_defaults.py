"""Default models: the SmolLM2 folder comes from the one converter (plot-lightning prepare-model)."""

from __future__ import annotations

import shutil

import pytest

from plot_eval.models import defaults
from plot_eval.models.defaults import default_embedding_model_path, default_scorer_model_path
from plot_eval.models.loading import ModelLoadError


def test_default_embedding_model_is_a_hf_folder():
    folder = default_embedding_model_path()
    assert (folder / "config.json").is_file()


def test_default_scorer_model_reused_from_cache(tmp_path, monkeypatch, tiny_model_dir):
    """A complete folder already in $PLOT_MODEL_CACHE is returned as is (no conversion subprocess)."""
    monkeypatch.setenv("PLOT_MODEL_CACHE", str(tmp_path))
    folder = tmp_path / "SmolLM2-135M-Instruct"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "generation_config.json").write_text("{}")
    monkeypatch.setattr(defaults, "PREPARE_COMMAND", ("-c", "raise SystemExit(3)"))
    assert default_scorer_model_path() == folder


def test_missing_folder_runs_the_one_converter_and_names_it_on_failure(tmp_path, monkeypatch):
    """Without a folder the plot-lightning converter is run; its failure is an error naming the folder."""
    monkeypatch.setenv("PLOT_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(defaults, "PREPARE_COMMAND", ("-c", "import sys; sys.exit('no wheel here')"))
    with pytest.raises(ModelLoadError, match="SmolLM2-135M-Instruct is missing.*no wheel here"):
        default_scorer_model_path()


def test_the_converted_folder_is_complete_and_shared():
    """The folder plot-lightning writes has the generation config and normal (0755 / 0644) permissions."""
    folder = defaults.model_cache_dir() / defaults.SMOLLM2_FOLDER_NAME
    if not folder.is_dir():
        pytest.skip(f"{folder} not converted on this machine")
    assert (folder / "generation_config.json").is_file()
    assert folder.stat().st_mode & 0o777 == 0o755
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in folder.iterdir())
