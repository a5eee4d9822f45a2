"""The grid: identities, sweeps (one at a time, deduplicated), method sections replacing the base's losses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.config import ExperimentConfigError, load_experiment_config
from experiments.data_prep import prepare_data
from experiments.grid import build_cells


def _cells(path):
    config = load_experiment_config(path)
    return build_cells(config, prepare_data(config))


def test_sweeps_touch_only_the_methods_that_use_the_parameter(tiny_experiment):
    cells = _cells(tiny_experiment(seeds=[0, 1], sweeps={"alpha": [0.1, 0.3], "lr": [1e-4]}))
    described = sorted(((c.method, c.seed, c.sweep) for c in cells), key=str)
    # alpha=0.1 is the default: the same cell as the main one. DPO has no alpha; lr applies to both.
    assert described == sorted(
        [(m, s, None) for m in ("dpo", "dpo_plot_dirac") for s in (0, 1)]
        + [("dpo_plot_dirac", s, ("alpha", 0.3)) for s in (0, 1)]
        + [(m, s, ("lr", 1e-4)) for m in ("dpo", "dpo_plot_dirac") for s in (0, 1)],
        key=str,
    )
    assert len({c.cell_id for c in cells}) == len(cells) and [c.index for c in cells] == list(
        range(len(cells))
    )
    swept = next(c for c in cells if c.sweep == ("alpha", 0.3))
    assert swept.training["model"]["weights"] == [1.0, 0.3]


def test_method_sections_replace_the_base_losses(tiny_experiment):
    """configs/tiny.yaml trains dpo + plot; the DPO cell must not inherit the base's plot loss_args."""
    dpo = next(c for c in _cells(tiny_experiment()) if c.method == "dpo")
    assert dpo.training["model"]["losses"] == ["dpo"] and set(dpo.training["model"]["loss_args"]) == {"dpo"}


def test_identity_follows_data_content(tiny_experiment, tmp_path):
    data = tmp_path / "heldout.jsonl"
    from plot_lightning.data.reading import resolve_source

    data.write_bytes(resolve_source("sample:code-mbpp").read_bytes())
    categories = {"logic": {"train_files": ["sample:gsm8k"], "heldout_files": [str(data)]}}
    before = {c.method: c.cell_id for c in _cells(tiny_experiment(categories=categories))}
    data.write_bytes(data.read_bytes() + data.read_bytes().splitlines(keepends=True)[0])
    after = {c.method: c.cell_id for c in _cells(tiny_experiment(categories=categories))}
    assert before.keys() == after.keys() and all(before[m] != after[m] for m in before)


def test_config_errors_name_the_file_and_key(tiny_experiment):
    with pytest.raises(
        ExperimentConfigError, match=r"experiment\.yaml: key 'methods': unknown method 'dpoo'"
    ):
        load_experiment_config(tiny_experiment(methods=["dpoo"]))
    with pytest.raises(ExperimentConfigError, match=r"key 'metrics': unknown key\(s\) \['heldout'\]"):
        load_experiment_config(tiny_experiment(metrics={"heldout": 3}))
    with pytest.raises(ExperimentConfigError, match="key 'sweeps': 'gamma' is not sweepable"):
        load_experiment_config(tiny_experiment(sweeps={"gamma": [1.0]}))


def test_the_cell_seed_owns_the_data_order(tiny_experiment):
    """The data module shuffles with its own generator (seeded by data.seed, not by seed_everything, for an
    exact resume). A cpu_small run where only seed_everything changed trained every seed on the same batch
    order and reproduced the same run three times; each cell's seed must reach data.seed too."""
    import torch

    from plot_lightning.data.resumable_loader import ShuffleSampler

    cells = [c for c in _cells(tiny_experiment(seeds=[0, 1, 2])) if c.method == "dpo"]
    assert [c.training["data"]["seed"] for c in cells] == [c.seed for c in cells] == [0, 1, 2]
    assert [c.training["seed_everything"] for c in cells] == [0, 1, 2]
    orders = {
        tuple(ShuffleSampler(range(64), generator=torch.Generator().manual_seed(c.training["data"]["seed"])))
        for c in cells
    }
    assert len(orders) == 3  # three different batch orders


def _prompt(row) -> str:
    return json.dumps(row["prompt"], sort_keys=True)


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_file_categories_validate_on_their_validation_files_not_the_heldout_ones(tiny_experiment):
    """The held-out pairs feed only the judge-free metrics: selecting or early-stopping on them would leak."""
    categories = {
        "logic": {
            "train_files": ["sample:gsm8k"],
            "validation_files": ["sample:truthfulqa"],
            "heldout_files": ["sample:code-mbpp"],
        }
    }
    for cell in _cells(tiny_experiment(categories=categories)):
        assert cell.training["data"]["val_files"] == ["sample:truthfulqa"]
        assert not set(cell.training["data"]["val_files"]) & set(cell.heldout_files)
        assert cell.heldout_files == ["sample:code-mbpp"]


def test_a_category_without_validation_data_trains_without_validation(tiny_experiment):
    """No validation files: none at all, not the held-out pairs and not a slice of the training rows."""
    categories = {"logic": {"train_files": ["sample:gsm8k"], "heldout_files": ["sample:code-mbpp"]}}
    for cell in _cells(tiny_experiment(categories=categories)):
        assert cell.training["data"]["val_files"] == []
        assert cell.training["data"]["val_fraction"] == 0.0


def test_recipe_splits_have_disjoint_prompts(tiny_experiment, monkeypatch, tmp_path):
    """Three splits per recipe: held-out, validation and training, no prompt in two of them (a prompt has
    several pairs here, so a row-level split would share prompts)."""
    from experiments.recipes import RECIPES, RecipeResult

    rows = [
        {"prompt": [{"role": "user", "content": f"q{i % 12}"}], "chosen": f"a{i}", "rejected": f"b{i}"}
        for i in range(60)
    ]
    monkeypatch.setitem(RECIPES, "toy", lambda root: RecipeResult(rows=rows))
    category = {
        "recipes": ["toy"],
        "train_per_recipe": 100,
        "validation_per_recipe": 5,
        "heldout_per_recipe": 6,
    }
    config = load_experiment_config(tiny_experiment(categories={"logic": category}))
    (cell, *_) = build_cells(config, prepare_data(config, str(tmp_path)))  # the toy recipe reads no files
    (train,) = cell.training["data"]["train_files"]
    (validation,) = cell.training["data"]["val_files"]
    (heldout,) = cell.heldout_files
    assert validation.endswith("validation.jsonl") and heldout.endswith("heldout.jsonl")
    splits = [{_prompt(row) for row in _rows(path)} for path in (train, validation, heldout)]
    assert not splits[0] & splits[1] and not splits[0] & splits[2] and not splits[1] & splits[2]
    assert [len(_rows(validation)), len(_rows(heldout))] == [5, 6]
    # Training keeps every row whose prompt is in neither of the other two splits.
    assert len(_rows(train)) == sum(1 for row in rows if _prompt(row) not in splits[1] | splits[2]) > 0
