"""The committed prompt/response mix the speed benchmarks scale their synthetic pairs to.

``(prompt, chosen, rejected)`` token counts of the committed demo pairs (``plot_lightning/data/samples/demo.jsonl``,
185 pairs) under SmolLM2-135M-Instruct's tokenizer and chat template: prompts are 59% of the rows' tokens. A
real model is measured with its own tokenizer (:func:`measured`); a ``random-*`` model has only a 3-token stub
tokenizer, which reads every pair as one token of each part, so it takes the committed counts
(:func:`committed`, ``demo_lengths.json``), which need no tokenizer: a lent GPU machine has no SmolLM2.
``tests/benchmarks/test_demo_lengths.py`` checks the file against :func:`measured` so it cannot go stale.

Regenerate after the demo data or the chat template changes::

    .venv/bin/python benchmarks/demo_lengths.py
"""

from __future__ import annotations

import json
from pathlib import Path

FILE = Path(__file__).with_name("demo_lengths.json")
SOURCE, TOKENIZER = "sample:demo", "smollm2-135m-instruct"
Triple = tuple[int, int, int]


def measured(model: str = TOKENIZER) -> list[Triple]:
    """The demo pairs' ``(prompt, chosen, rejected)`` token counts under ``model``'s tokenizer and template.

    ValueError when they are degenerate (a median part under 2 tokens: a stub tokenizer, not a mix)."""
    from vs_trl import tokenised_examples

    rows, _ = tokenised_examples(model, SOURCE, 1 << 16, 1 << 16)
    triples = []
    for row in rows:
        prompt = sum(1 for label in row["chosen_labels"] if label == -100)
        triples.append(
            (prompt, len(row["chosen_input_ids"]) - prompt, len(row["rejected_input_ids"]) - prompt)
        )
    medians = [sorted(part)[len(part) // 2] for part in zip(*triples, strict=True)]
    if min(medians) < 2:
        raise ValueError(
            f"{model}: the demo pairs tokenise to median (prompt, chosen, rejected) = {tuple(medians)} tokens: "
            "a stub tokenizer, not a prompt/response mix (random-* models take the committed counts)"
        )
    return triples


def committed() -> list[Triple]:
    """The counts in ``demo_lengths.json`` (written by :func:`write` from :func:`measured`)."""
    return [tuple(triple) for triple in json.loads(FILE.read_text())["triples"]]


def write() -> None:
    triples = measured()
    record = {"source": SOURCE, "tokenizer": TOKENIZER, "triples": [list(t) for t in triples]}
    FILE.write_text(json.dumps(record, separators=(",", ":")) + "\n")
    prompt, chosen, rejected = (sum(part) for part in zip(*triples, strict=True))
    share = 2 * prompt / (2 * prompt + chosen + rejected)
    print(f"{FILE}: {len(triples)} pairs, prompt share of the rows {share:.3f}")


if __name__ == "__main__":
    write()
