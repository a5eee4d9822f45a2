"""Load a causal LM and its tokenizer from a *model spec* string: ``"tiny"`` (:mod:`plot_lightning.models.tiny`),
a known packaged GGUF (:mod:`plot_lightning.models.known_gguf`, converted once), or anything
``from_pretrained`` takes (a local Hugging Face folder, or a hub name when online).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

TINY = "tiny"


def _resolve(spec: str) -> str:
    """Map a spec to what ``from_pretrained`` takes; raise when a path-like spec does not exist."""
    from plot_lightning.models.known_gguf import KNOWN_GGUFS

    if spec.lower() in KNOWN_GGUFS:
        from plot_lightning.models.prepare import known_folder

        return str(known_folder(spec))
    path = Path(spec).expanduser()
    if path.exists():
        return str(path)
    # A hub name is "name" or "org/name"; anything else that does not exist is a missing folder.
    looks_like_path = spec.startswith((".", "/", "~")) or spec.count("/") > 1
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
    if looks_like_path or offline:
        raise FileNotFoundError(
            f"model {spec!r}: no such folder ({path.resolve()}). Give a Hugging Face model folder "
            f"(config.json + weights), '{TINY}', or one of {', '.join(KNOWN_GGUFS)}"
            + (" (hub names need HF_HUB_OFFLINE unset)." if offline else ".")
        )
    return spec


def load_causal_lm(spec: str, *, dtype: torch.dtype = torch.float32) -> PreTrainedModel:
    """Load a causal LM (e.g. ``LlamaForCausalLM``) from ``spec`` in ``dtype`` (fp32 by default)."""
    if spec == TINY:
        from plot_lightning.models.tiny import tiny_model, tiny_tokenizer

        # Built in fp32 whatever the default dtype (bf16-true sets it to bf16 around configure_model), so that
        # "tiny" is one model everywhere and its fp32 weights (the PLOT cost embedding) are not bf16-rounded.
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float32)
        try:
            return tiny_model(len(tiny_tokenizer())).to(dtype)
        finally:
            torch.set_default_dtype(previous)
    source = _resolve(spec)
    try:
        return AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except OSError as error:
        raise FileNotFoundError(
            f"model {spec!r}: cannot load a causal LM from {source!r}: {error}"
        ) from error


def load_tokenizer(spec: str) -> PreTrainedTokenizerBase:
    """Load the tokenizer for ``spec``; a missing pad token falls back to the EOS token."""
    if spec == TINY:
        from plot_lightning.models.tiny import tiny_tokenizer

        return tiny_tokenizer()
    source = _resolve(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as error:
        raise FileNotFoundError(f"tokenizer {spec!r}: cannot load from {source!r}: {error}") from error
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
