"""The judge-free stage of a cell: held-out metrics and the distribution diagnostic, from its export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plot_lightning.experiment.config import ExperimentConfig
from plot_lightning.experiment.grid import Cell
from plot_lightning.experiment.methods import DEFAULT_HYPERPARAMETERS


def load_heldout_records(files: list[str], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` valid preference rows of ``files`` (bad rows skipped, pairs required)."""
    from plot_lightning.data.records import load_records
    from plot_lightning.data.validation import BadRowLog

    records, has_rejected = load_records(files, "auto", BadRowLog("skip"))
    if not has_rejected:
        raise ValueError(f"held-out files {files} hold no preference pairs (chosen and rejected)")
    return records[:limit]


def measure_cell(cell: Cell, export: Path, config: ExperimentConfig) -> dict[str, Any]:
    """``{"heldout": {group: metrics}, "heldout_items": [per pair], "diagnostic": [...]}`` of the exported
    policy vs its reference."""
    from plot_lightning.experiment.diagnose import diagnose_models
    from plot_lightning.experiment.heldout_metrics import heldout_items, summarize
    from plot_lightning.models.loading import load_causal_lm, load_tokenizer

    spec = str(cell.training["model"].get("model", "tiny"))
    data = cell.training.get("data", {})
    lengths = {
        "max_length": int(data.get("max_length", 512)),
        "max_prompt_length": data.get("max_prompt_length"),
    }
    tokenizer = load_tokenizer(spec)
    policy, reference = load_causal_lm(str(export)), load_causal_lm(spec)
    settings = config.metrics
    records = load_heldout_records(cell.heldout_files, settings.heldout_pairs)
    beta = config.defaults.get("beta", DEFAULT_HYPERPARAMETERS["beta"])  # one beta: margins comparable
    items = heldout_items(
        policy, reference, tokenizer, records, beta=beta, batch_size=settings.batch_size, **lengths
    )
    diagnostic = diagnose_models(
        {cell.method: policy}, reference, tokenizer, records,
        n_prompts=settings.diagnostic_prompts, top_k=settings.diagnostic_top_k, **lengths,
    )  # fmt: skip
    return {
        "heldout": summarize(items), "heldout_items": items, "diagnostic": diagnostic,
        "implicit_reward_beta": beta,
    }  # fmt: skip
