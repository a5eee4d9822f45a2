"""The committed arithmetic results (results/arithmetic) are what the analysis code computes from the committed
per-item values, and every committed file matches its checksum."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from experiments.arithmetic_analysis import analyse, measurements_from_items
from experiments.arithmetic_config import load_arithmetic_config

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "arithmetic"


@pytest.mark.parametrize("folder", [RESULTS, RESULTS / "data"], ids=["results", "data"])
def test_committed_files_match_their_checksums(folder):
    listed = dict(line.split()[::-1] for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert listed, folder
    for name, digest in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_every_committed_interval_is_recomputed_from_the_committed_items():
    config = load_arithmetic_config(ROOT / "configs" / "experiments" / "arithmetic.yaml")
    with gzip.open(RESULTS / "items.jsonl.gz", "rt", encoding="utf-8") as lines:
        measurements = measurements_from_items(lines)
    assert len(measurements) == 1 + len(config.arms) * len(config.seeds) * len(config.points)
    recomputed = json.loads(json.dumps(analyse(config, measurements)))
    committed = json.loads((RESULTS / "results.json").read_text(encoding="utf-8"))
    # The run's code wrote numpy booleans through json's default=str ("False"); the analysis now writes bools.
    for contrast in committed["contrasts"]:
        contrast.update(
            {k: contrast[k] == "True" for k in ("better", "worse") if isinstance(contrast[k], str)}
        )
    for key in ("base", "base_items", "arms", "contrasts", "verdict", "analysis"):
        assert recomputed[key] == committed[key], key
