"""Session-wide test settings: everything offline, caches in a temporary folder."""

from __future__ import annotations

import os
import tempfile

_CACHE = tempfile.mkdtemp(prefix="plot-tests-hf-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["HF_HOME"] = _CACHE
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from plot_lightning.models.tiny import tiny_tokenizer as build

    return build()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer):
    """A tiny Llama + tokenizer saved as a Hugging Face folder (the export contract)."""
    from plot_lightning.models.tiny import tiny_model

    folder = tmp_path_factory.mktemp("tiny-model")
    tiny_model(len(tiny_tokenizer)).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder
