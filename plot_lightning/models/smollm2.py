"""SmolLM2-135M-Instruct, the demo's model: the known packaged GGUF ``smollm2-135m-instruct``
(:mod:`plot_lightning.models.known_gguf`) converted once into ``$PLOT_MODEL_CACHE/SmolLM2-135M-Instruct``
(default ``~/.cache/plot-lightning/models``), a fp32 ``LlamaForCausalLM`` with its chat template. The
evaluation package reads the same layout.
"""

from __future__ import annotations

from pathlib import Path

from plot_lightning.models import prepare

NAME = "smollm2-135m-instruct"


def smollm2_folder(*, cache_dir: Path | None = None, force: bool = False) -> Path:
    """Path of the converted folder, converting the GGUF on first use."""
    return prepare.known_folder(NAME, cache_dir=cache_dir, force=force)


def prepare_model(*, force: bool = False) -> Path:
    """Convert (if needed), check the folder loads with ``from_pretrained``, and return its path."""
    return prepare.prepare_model(NAME, force=force)
