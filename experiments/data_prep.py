"""Each category's training, validation and held-out pairs: given files, or recipes prepared once.

Recipe rows are shuffled with a fixed seed (0) and split into ``heldout_per_recipe`` held-out pairs, then
``validation_per_recipe`` validation pairs and ``train_per_recipe`` training pairs, no prompt in two splits;
recipes already exclude the eval suites' rows. Validation runs during training; the held-out pairs are seen only
by the judge-free metrics. The prepared files live in ``<out>/data/<category>/`` and are written atomically,
with ``split.json`` (the settings they came from) last; their content hashes are part of every cell's identity,
so changing the data reruns the cells that use it.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from experiments.config import CategoryData, ExperimentConfig

PREPARE_SEED = 0


class CategoryFiles(NamedTuple):
    """A category's data files: training, validation (may be empty) and held-out."""

    train: list[str]
    validation: list[str]
    heldout: list[str]


def _prompt(row: dict[str, Any]) -> str:
    return json.dumps(row["prompt"], sort_keys=True)


def _split(rows: list[dict[str, Any]], n_train: int, n_validation: int, n_heldout: int) -> tuple:
    """``(train, validation, heldout)``: held-out rows first, then the others, skipping prompts already taken.

    Held-out comes first so that it does not depend on the validation and training sizes.
    """
    shuffled = rows[:]
    random.Random(PREPARE_SEED).shuffle(shuffled)
    heldout, rest = shuffled[:n_heldout], shuffled[n_heldout:]
    taken = {_prompt(row) for row in heldout}
    validation = [row for row in rest if _prompt(row) not in taken][:n_validation]
    taken |= {_prompt(row) for row in validation}
    train = [row for row in rest if _prompt(row) not in taken][:n_train]
    return train, validation, heldout


def _write_text(text: str, path: Path) -> None:
    """Atomic, and safe when several ranks or array jobs prepare the same file at once (same content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def prepare_category(
    name: str, category: CategoryData, out_dir: Path, data_root: str | None
) -> CategoryFiles:
    """The files of one category, preparing recipe files when needed (or when their settings changed)."""
    given = CategoryFiles(
        list(category.train_files), list(category.validation_files), list(category.heldout_files)
    )
    if not category.recipes:
        return given
    from experiments.recipes import RECIPES
    from experiments.recipes.paths import data_root as resolve_root

    unknown = [recipe for recipe in category.recipes if recipe not in RECIPES]
    if unknown:
        raise ValueError(f"category {name!r}: unknown recipe(s) {unknown}; known: {sorted(RECIPES)}")
    folder = out_dir / "data" / name
    files = {split: folder / f"{split}.jsonl" for split in ("train", "validation", "heldout")}
    counts = (category.train_per_recipe, category.validation_per_recipe, category.heldout_per_recipe)
    settings = {
        "seed": PREPARE_SEED,
        "recipes": category.recipes,
        "per_recipe": dict(zip(files, counts, strict=True)),
    }
    manifest = folder / "split.json"
    # Files from other settings (or from before the validation split existed) are prepared again.
    if not (manifest.is_file() and json.loads(manifest.read_text(encoding="utf-8")) == settings):
        root = resolve_root(data_root)
        parts: dict[str, list] = {split: [] for split in files}
        for recipe in category.recipes:
            for split, rows in zip(files, _split(RECIPES[recipe](root).rows, *counts), strict=True):
                parts[split] += rows
        for split, path in files.items():
            _write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in parts[split]), path)
        _write_text(json.dumps(settings, sort_keys=True), manifest)
    validation = [str(files["validation"])] if category.validation_per_recipe else []
    return CategoryFiles(
        [*given.train, str(files["train"])],
        [*given.validation, *validation],
        [*given.heldout, str(files["heldout"])],
    )


def prepare_data(config: ExperimentConfig, data_root: str | None = None) -> dict[str, CategoryFiles]:
    """``{category: CategoryFiles}`` for every category of the experiment."""
    out = Path(config.out_dir)
    return {name: prepare_category(name, cat, out, data_root) for name, cat in config.categories.items()}
