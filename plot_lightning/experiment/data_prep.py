"""Each category's training and held-out pairs: given files, or recipes prepared from the data root once.

Recipe rows are shuffled with a fixed seed (0) and split into ``train_per_recipe`` training pairs and
``heldout_per_recipe`` held-out pairs with disjoint prompts; recipes already exclude the eval suites' rows.
The prepared files live in ``<out>/data/<category>/`` and are written atomically; their content hashes are part
of every cell's identity, so changing the data reruns the cells that use it.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

from plot_lightning.experiment.config import CategoryData, ExperimentConfig

PREPARE_SEED = 0


def _split(rows: list[dict[str, Any]], n_train: int, n_heldout: int) -> tuple[list, list]:
    """Held-out rows first (their prompts), then training rows whose prompt is not held out."""
    shuffled = rows[:]
    random.Random(PREPARE_SEED).shuffle(shuffled)
    heldout = shuffled[:n_heldout]
    prompts = {json.dumps(row["prompt"], sort_keys=True) for row in heldout}
    train = [row for row in shuffled[n_heldout:] if json.dumps(row["prompt"], sort_keys=True) not in prompts]
    return train[:n_train], heldout


def _write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    """Atomic, and safe when several ranks or array jobs prepare the same file at once (same content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    os.replace(tmp, path)


def prepare_category(name: str, category: CategoryData, out_dir: Path, data_root: str | None) -> tuple:
    """``(train_files, heldout_files)`` of one category, preparing recipe files when needed."""
    if not category.recipes:
        return list(category.train_files), list(category.heldout_files)
    from plot_lightning.data.recipes import RECIPES
    from plot_lightning.data.recipes.paths import data_root as resolve_root

    unknown = [recipe for recipe in category.recipes if recipe not in RECIPES]
    if unknown:
        raise ValueError(f"category {name!r}: unknown recipe(s) {unknown}; known: {sorted(RECIPES)}")
    folder = out_dir / "data" / name
    train_file, heldout_file = folder / "train.jsonl", folder / "heldout.jsonl"
    if not (train_file.is_file() and heldout_file.is_file()):
        root = resolve_root(data_root)
        train, heldout = [], []
        for recipe in category.recipes:
            part_train, part_heldout = _split(
                RECIPES[recipe](root).rows, category.train_per_recipe, category.heldout_per_recipe
            )
            train += part_train
            heldout += part_heldout
        _write_jsonl(heldout, heldout_file)
        _write_jsonl(train, train_file)
    return [*category.train_files, str(train_file)], [*category.heldout_files, str(heldout_file)]


def prepare_data(config: ExperimentConfig, data_root: str | None = None) -> dict[str, tuple[list, list]]:
    """``{category: (train_files, heldout_files)}`` for every category of the experiment."""
    out = Path(config.out_dir)
    return {name: prepare_category(name, cat, out, data_root) for name, cat in config.categories.items()}
