"""An experiment config on the tiny model, written into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_experiment(tmp_path):
    """``write(**overrides) -> path``: configs/experiments/tiny.yaml with its output under ``tmp_path``."""

    def write(**overrides) -> Path:
        config = yaml.safe_load((REPO / "configs" / "experiments" / "tiny.yaml").read_text(encoding="utf-8"))
        config["base_config"] = str(REPO / "configs" / "tiny.yaml")
        config["out_dir"] = str(tmp_path / "experiment")
        config.update(overrides)
        path = tmp_path / "experiment.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    return write
