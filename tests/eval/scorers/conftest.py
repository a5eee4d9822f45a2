"""Real models and real text for the scorer tests (``data_file`` comes from tests/eval/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def minilm_scorer():
    """CoherenceScorer on the real all-MiniLM-L6-v2, loaded once per session."""
    from plot_eval.scorers.coherence import CoherenceScorer

    return CoherenceScorer()


@pytest.fixture(scope="session")
def gsm8k_rows(data_file):
    import json

    return [json.loads(line) for line in data_file("gsm8k/test.jsonl").read_text().splitlines()[:8]]


@pytest.fixture(scope="session")
def hh_pairs(data_file):
    """(last human turn, chosen assistant reply) from hh-rlhf helpful transcripts."""
    import gzip
    import json

    with gzip.open(data_file("hh-rlhf/helpful-base.test.jsonl.gz"), "rt") as handle:
        rows = [json.loads(line) for line in handle][:12]
    pairs = []
    for row in rows:
        head, _, reply = row["chosen"].rpartition("\n\nAssistant:")
        pairs.append((head.rpartition("\n\nHuman:")[2].strip(), reply.strip()))
    return [(q, a) for q, a in pairs if q and len(a.split()) >= 8]
