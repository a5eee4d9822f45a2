"""The judge-free stage of a cell: held-out metrics and the distribution diagnostic, from its export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments.config import ExperimentConfig
from experiments.grid import Cell
from experiments.methods import DEFAULT_HYPERPARAMETERS
from plot_lightning.data.pair_batches import load_pair_records


def measure_cell(cell: Cell, export: Path, config: ExperimentConfig) -> dict[str, Any]:
    """``{"heldout": {group: metrics}, "heldout_items": [per pair], "diagnostic": [...]}`` of the exported
    policy vs its reference."""
    from experiments.diagnose import diagnose_models
    from experiments.heldout_metrics import heldout_items, summarize
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
    records = load_pair_records(cell.heldout_files, settings.heldout_pairs)
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
