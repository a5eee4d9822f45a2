"""collect: tables, paired differences and sensitivity charts from finished cells, against hand values.

The cell records are written here (no training): the statistics are what is under test, with values chosen
so that every interval can be derived by hand.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from experiments.collect import collect
from experiments.experiment import load_experiment
from experiments.progress import Progress
from experiments.runner import cell_record, cell_state

T_975_2 = 4.302653  # Student t quantile, 2 degrees of freedom


def _finish(config, cell, accuracy: float) -> None:
    items = [{"item": 0, "source_id": "a", "subpreference": "math", "correct": accuracy}]
    record = {**cell_record(cell), "heldout": {"all": {"pref_accuracy": accuracy}}, "diagnostic": [],
              "heldout_items": items, "eval": {}, "cost": {}}  # fmt: skip
    cell_state(config, cell).mark("done", record)


def _row(text: str, metric: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {metric} |"))
    return [cell.strip() for cell in line.strip("|").split("|")[1:]]


def test_tables_and_charts_from_finished_cells(tiny_experiment):
    experiment = load_experiment(tiny_experiment(seeds=[0, 1, 2], sweeps={"alpha": [0.3]}))
    config = experiment.config
    for cell in experiment.cells:
        if cell.sweep is None and cell.method == "dpo":
            _finish(config, cell, 0.5 + 0.1 * cell.seed)  # 0.5, 0.6, 0.7
        elif cell.sweep is None:
            _finish(config, cell, 0.6 + 0.1 * cell.seed + (0.1 if cell.seed == 2 else 0.0))  # 0.6, 0.7, 0.9
        elif cell.seed < 2:  # the alpha=0.3 cells: two of three seeds finished
            _finish(config, cell, 0.4)
    out = collect(config, experiment.cells)
    table = (out / "table.md").read_text(encoding="utf-8")
    assert "8/9 cells finished" in table
    dpo, plot = _row(table, "heldout/all/pref_accuracy")
    half = T_975_2 * 0.1 / math.sqrt(3)  # DPO: mean 0.6, s = 0.1
    assert dpo == f"{0.6:.3g} [{0.6 - half:.3g}, {0.6 + half:.3g}] (n=3)"
    assert plot.startswith("0.733 [") and plot.endswith("(n=3)")
    # paired differences 0.1, 0.1, 0.2: mean 0.1333, s = 0.05774
    (diff,) = _row((out / "paired.md").read_text(encoding="utf-8"), "heldout/all/pref_accuracy")
    low, high = (float(x) for x in re.search(r"\[(.*), (.*)\]", diff).groups())
    assert (low + high) / 2 == pytest.approx(0.1333, abs=1e-3)
    assert (high - low) / 2 == pytest.approx(T_975_2 * 0.057735 / math.sqrt(3), rel=1e-2)
    assert (out / "charts" / "sensitivity_logic_alpha.png").stat().st_size > 0
    assert "heldout/all/pref_accuracy" in (out / "cells.csv").read_text(encoding="utf-8")
    assert "seeds did not vary" not in table  # the seeds differ here
    lines = [
        json.loads(line) for line in (out / "heldout_items.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(lines) == 8  # one item per finished cell, each tagged with its cell
    dpo = {line["seed"]: line["correct"] for line in lines if not line["sweep"] and line["method"] == "dpo"}
    assert dpo == pytest.approx({0: 0.5, 1: 0.6, 2: 0.7})


def test_seeds_that_reproduce_one_run_are_flagged_in_table_and_paired(tiny_experiment):
    """Every seed with the same held-out results: zero-width intervals by construction, said in both files
    and naming the group; a group whose seeds differ is not named."""
    experiment = load_experiment(tiny_experiment(seeds=[0, 1, 2]))
    config = experiment.config
    for cell in experiment.cells:
        _finish(config, cell, 0.5 if cell.method == "dpo" else 0.5 + 0.1 * cell.seed)
    out = collect(config, experiment.cells)
    for name in ("table.md", "paired.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "the seeds did not vary the results" in text
        flagged = re.search(r"In 1 group\(s\) \(([^)]*)\)", text).group(1)
        assert flagged.endswith("/dpo") and "dpo_plot" not in flagged
    (dpo, _) = _row((out / "table.md").read_text(encoding="utf-8"), "heldout/all/pref_accuracy")
    assert dpo == "0.5 [0.5, 0.5] (n=3)"


def test_progress_eta_is_the_mean_cell_time_times_the_cells_left():
    progress = Progress(total=5, already_done=1)
    assert progress.line("x").endswith("ETA unknown") and "1/5 cells done" in progress.line("x")
    progress.durations = [60.0, 120.0]
    progress.done = 3
    assert progress.line("x").endswith("ETA 3m00s")  # 2 left x 90 s
