"""hh-rlhf test splits (Anthropic, MIT) -> harmlessness / helpfulness pairs.

The prompt is the chosen transcript up to and including its last ``"\\n\\nAssistant:"`` (as chat messages);
rows whose rejected transcript does not start with that prefix are dropped and counted, as are rows with an
empty turn or response and rows whose two responses are identical. Only the rows before the eval hold-out
boundary are used (the last 10% of each file are evaluation prompts, see ``holdout.py``); the held-out rows
are counted under ``"held out for eval"``.
"""

from __future__ import annotations

from pathlib import Path

from experiments.recipes.holdout import HELD_OUT_REASON, HH_RLHF_HOLDOUT_FRACTION, holdout_start
from experiments.recipes.pairs import RecipeResult, read_jsonl
from experiments.recipes.paths import data_file
from plot_lightning.data.errors import RowProblem
from plot_lightning.data.transcript import split_transcripts

SPLITS = {"harmless": "harmlessness", "helpful": "helpfulness"}


def hh_rlhf(root: Path, split: str) -> RecipeResult:
    """Pairs from the training rows of ``hh-rlhf/<split>-base.test.jsonl.gz`` (``"harmless"``/``"helpful"``)."""
    relative = f"hh-rlhf/{split}-base.test.jsonl.gz"
    result = RecipeResult()
    rows = read_jsonl(data_file(root, relative))
    start = holdout_start(len(rows), HH_RLHF_HOLDOUT_FRACTION)
    result.dropped[HELD_OUT_REASON] = len(rows) - start
    for number, row in enumerate(rows[:start], start=1):
        try:
            prompt, chosen, rejected = split_transcripts(row["chosen"], row["rejected"])
        except RowProblem as problem:
            reason = problem.reason.split(" (")[0]
            result.dropped[reason] += 1
            continue
        if chosen == rejected:
            result.dropped["identical responses"] += 1
            continue
        result.add(prompt, chosen, rejected, SPLITS[split], f"hh-rlhf/{split}-base.test", f"row {number}")
    return result
